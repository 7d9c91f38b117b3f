"""Generator and discriminator architectures, and the spec that rebuilds a generator from metadata.

A generator is described by a plain dict (`GeneratorSpec`) so an exported `.safetensors` file can
carry it as metadata and be rebuilt without pickle. What the rest of the program needs to know about an
architecture (its value range, the half precisions it runs correctly in, input size limits) is declared
on the class itself, as spandrel's descriptors do for third-party models.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

if TYPE_CHECKING:
    from engine.training.config import TrainConfig

GeneratorSpec = dict[str, Any]


# ----------------------------------------------------------------------------- generators
class CompactGenerator(nn.Module):
    """Real-ESRGAN's SRVGGNetCompact: plain convs + PReLU at LR resolution, PixelShuffle at the end.

    The module names (`body.N`) are the upstream layout, so spandrel-based tools load our exports.
    Values are in [0, 1]; the network learns a residual over nearest-neighbour upsampling.
    """

    value_range = (0.0, 1.0)
    supports_half, supports_bf16 = True, True
    min_size, size_multiple = 1, 1

    def __init__(self, in_channels: int = 3, num_feat: int = 32, num_conv: int = 12, scale: int = 4) -> None:
        super().__init__()
        self.in_channels, self.out_channels, self.scale = in_channels, in_channels, scale
        self.num_feat, self.num_conv = num_feat, num_conv
        layers: list[nn.Module] = [nn.Conv2d(in_channels, num_feat, 3, 1, 1), nn.PReLU(num_parameters=num_feat)]
        for _ in range(num_conv):
            layers += [nn.Conv2d(num_feat, num_feat, 3, 1, 1), nn.PReLU(num_parameters=num_feat)]
        layers.append(nn.Conv2d(num_feat, in_channels * scale * scale, 3, 1, 1))
        self.body = nn.ModuleList(layers)
        self.upsampler = nn.PixelShuffle(scale)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = x
        for layer in self.body:
            out = layer(out)
        return self.finish(out, x)

    def finish(self, features: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """From the body's output to the image: pixel shuffle plus the input upsampled nearest-neighbour
        (separate so that the upscaler can run the body its own way on a CPU, engine.upscaling.upscaler)."""
        return self.upsampler(features) + F.interpolate(x, scale_factor=self.scale, mode="nearest")

    def spec(self) -> GeneratorSpec:
        return {"arch": "compact", "in_channels": self.in_channels, "num_feat": self.num_feat,
                "num_conv": self.num_conv, "scale": self.scale}


class _DenseBlock(nn.Module):
    """Two conv layers, each fed the concatenation of the block input and all earlier outputs."""

    def __init__(self, in_channels: int, growth: int = 32, layers: int = 2) -> None:
        super().__init__()
        self.layers = nn.ModuleList(
            nn.Sequential(nn.Conv2d(in_channels + i * growth, growth, 3, 1, 1), nn.BatchNorm2d(growth), nn.ReLU(True))
            for i in range(layers)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = [x]
        for layer in self.layers:
            features.append(layer(torch.cat(features, dim=1)))
        return torch.cat(features, dim=1)


class ClassicGenerator(nn.Module):
    """The source article's generator: transposed-conv upsampling early, dense blocks at HR, tanh.

    Values are in [-1, 1]. Each x2 of scale is one ConvTranspose stage (the article's x4 has two).
    """

    value_range = (-1.0, 1.0)
    supports_half, supports_bf16 = True, False  # BatchNorm statistics lose too much in bf16
    min_size, size_multiple = 1, 1

    def __init__(self, in_channels: int = 1, scale: int = 4) -> None:
        super().__init__()
        if scale not in (2, 4):
            raise ValueError("the classic generator upsamples x2 or x4")
        self.in_channels, self.out_channels, self.scale = in_channels, in_channels, scale
        self.head = nn.Sequential(nn.Conv2d(in_channels, 64, 9, 1, 4), nn.BatchNorm2d(64), nn.ReLU(True))
        stages: list[nn.Module] = []
        widths = [64, 256, 128] if scale == 4 else [64, 128]
        for cin, cout in zip(widths[:-1], widths[1:]):
            stages += [nn.ConvTranspose2d(cin, cout, 3, 2, 1, output_padding=1), nn.BatchNorm2d(cout), nn.ReLU(True)]
        self.upsample = nn.Sequential(*stages)
        self.dense = nn.Sequential(_DenseBlock(128), _DenseBlock(192), _DenseBlock(256))
        self.tail = nn.Conv2d(320, in_channels, 9, 1, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.tail(self.dense(self.upsample(self.head(x)))))

    def spec(self) -> GeneratorSpec:
        return {"arch": "classic", "in_channels": self.in_channels, "scale": self.scale}


# ----------------------------------------------------------------------------- discriminators
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
    "classic": ClassicDiscriminator, "vgg": VGGStyleDiscriminator, "unet": UNetDiscriminator,
}


def discriminator_for(config: TrainConfig) -> nn.Module:
    return DISCRIMINATORS[config.discriminator](config.channels, config.disc_features, spectral=config.spectral_norm,
                                                minibatch_stddev=config.minibatch_stddev)
