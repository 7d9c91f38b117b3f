"""Discriminator architectures, by the name a training config gives (`discriminator`).

They return logits (the losses apply the sigmoid, engine/training/losses.py). Apart from the generators
(engine/archs/networks.py) because nothing here depends on the upscaling factor, so the config can read
the table's names without an import cycle.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm


class MinibatchStdDev(nn.Module):
    """ProGAN's minibatch-stddev feature: lets D see batch diversity, which discourages mode collapse."""

    def __init__(self, group_size: int = 4) -> None:
        super().__init__()
        self.group_size = group_size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        group = min(self.group_size, n)
        while n % group:
            group -= 1
        y = x.view(group, -1, c, h, w).float()
        std = (y.var(dim=0, unbiased=False) + 1e-8).sqrt().mean(dim=(1, 2, 3))  # one value per subgroup
        std = std.to(x.dtype).view(-1, 1, 1, 1).repeat(group, 1, h, w)
        return torch.cat([x, std], dim=1)


def _maybe_sn(module: nn.Module, use_sn: bool) -> nn.Module:
    return spectral_norm(module) if use_sn else module


class ClassicDiscriminator(nn.Module):
    """The article's discriminator. It returns logits: its sigmoid lives in the loss (BCE-with-logits),
    which is the same function, computed without the log(0) overflow."""

    def __init__(self, in_channels: int = 1, num_feat: int = 64, spectral: bool = False,
                 minibatch_stddev: bool = False) -> None:
        super().__init__()

        def block(cin: int, cout: int, stride: int, bn: bool) -> list[nn.Module]:
            layers = [_maybe_sn(nn.Conv2d(cin, cout, 3, stride, 1), spectral)]
            if bn and not spectral:
                layers.append(nn.BatchNorm2d(cout))
            layers.append(nn.LeakyReLU(0.2, True))
            return layers

        f = num_feat
        layers = block(in_channels, f, 1, False) + block(f, f, 2, True) + block(f, 2 * f, 2, True)
        layers += block(2 * f, 4 * f, 2, True)
        if minibatch_stddev:
            layers.append(MinibatchStdDev())
        layers += [nn.AdaptiveAvgPool2d(1), _maybe_sn(nn.Conv2d(4 * f + int(minibatch_stddev), 1, 1), spectral)]
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).flatten(1)


class VGGStyleDiscriminator(nn.Module):
    """ESRGAN's VGG-style discriminator with spectral norm instead of BatchNorm; one logit per image.

    Global pooling before the head makes it work at any patch size.
    """

    def __init__(self, in_channels: int = 3, num_feat: int = 64, spectral: bool = True,
                 minibatch_stddev: bool = False) -> None:
        super().__init__()
        widths = [num_feat, num_feat * 2, num_feat * 4, num_feat * 8]
        layers: list[nn.Module] = [_maybe_sn(nn.Conv2d(in_channels, widths[0], 3, 1, 1), spectral),
                                   nn.LeakyReLU(0.2, True)]
        cin = widths[0]
        for width in widths:
            layers += [_maybe_sn(nn.Conv2d(cin, width, 4, 2, 1, bias=False), spectral), nn.LeakyReLU(0.2, True),
                       _maybe_sn(nn.Conv2d(width, width, 3, 1, 1, bias=False), spectral), nn.LeakyReLU(0.2, True)]
            cin = width
        if minibatch_stddev:
            layers.append(MinibatchStdDev())
            cin += 1
        self.features = nn.Sequential(*layers)
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                                  _maybe_sn(nn.Linear(cin, 100), spectral), nn.LeakyReLU(0.2, True),
                                  _maybe_sn(nn.Linear(100, 1), spectral))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


class UNetDiscriminator(nn.Module):
    """Real-ESRGAN's U-Net discriminator with spectral norm: one logit per pixel, so it judges local
    texture as well as global structure."""

    def __init__(self, in_channels: int = 3, num_feat: int = 64, spectral: bool = True,
                 minibatch_stddev: bool = False) -> None:
        super().__init__()
        sn = lambda m: _maybe_sn(m, spectral)  # noqa: E731
        self.conv0 = nn.Conv2d(in_channels, num_feat, 3, 1, 1)
        self.conv1 = sn(nn.Conv2d(num_feat, num_feat * 2, 4, 2, 1, bias=False))
        self.conv2 = sn(nn.Conv2d(num_feat * 2, num_feat * 4, 4, 2, 1, bias=False))
        self.conv3 = sn(nn.Conv2d(num_feat * 4, num_feat * 8, 4, 2, 1, bias=False))
        self.mbstd = MinibatchStdDev() if minibatch_stddev else None
        extra = int(minibatch_stddev)
        self.conv4 = sn(nn.Conv2d(num_feat * 8 + extra, num_feat * 4, 3, 1, 1, bias=False))
        self.conv5 = sn(nn.Conv2d(num_feat * 4, num_feat * 2, 3, 1, 1, bias=False))
        self.conv6 = sn(nn.Conv2d(num_feat * 2, num_feat, 3, 1, 1, bias=False))
        self.conv7 = sn(nn.Conv2d(num_feat, num_feat, 3, 1, 1, bias=False))
        self.conv8 = sn(nn.Conv2d(num_feat, num_feat, 3, 1, 1, bias=False))
        self.conv9 = nn.Conv2d(num_feat, 1, 3, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        act = lambda t: F.leaky_relu(t, 0.2, inplace=True)  # noqa: E731
        up = lambda t, ref: F.interpolate(t, size=ref.shape[-2:], mode="bilinear", align_corners=False)  # noqa: E731
        x0 = act(self.conv0(x))
        x1 = act(self.conv1(x0))
        x2 = act(self.conv2(x1))
        x3 = act(self.conv3(x2))
        if self.mbstd is not None:
            x3 = self.mbstd(x3)
        x4 = act(self.conv4(up(x3, x2))) + x2
        x5 = act(self.conv5(up(x4, x1))) + x1
        x6 = act(self.conv6(up(x5, x0))) + x0
        out = act(self.conv8(act(self.conv7(x6))))
        return self.conv9(out)


DISCRIMINATORS: dict[str, type[nn.Module]] = {
    "vgg": VGGStyleDiscriminator, "unet": UNetDiscriminator, "classic": ClassicDiscriminator,
}
