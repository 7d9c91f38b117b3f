"""Our own generator architectures (the table of all trainable ones: engine/archs/table.py;
discriminators: engine/archs/discriminators.py).

A generator is described by a plain dict (`GeneratorSpec`) so an exported `.safetensors` file can
carry it as metadata and be rebuilt without pickle. What the rest of the program needs to know about an
architecture (its value range, the half precisions it runs correctly in, input size limits) is declared
on the class itself, as spandrel's descriptors do for third-party models.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

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


