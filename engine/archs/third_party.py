"""spandrel's ESRGAN (RRDBNet) and SPAN networks as trainable generators of ours.

Each class adds what our trainer and exporter need (`spec()`, value range, precisions, size limits) to
spandrel's module. ESRGAN's state dict uses BasicSR's key layout (that of Real-ESRGAN's x4plus), so
checkpoints, EMA copies and exports load in chaiNNer, ComfyUI and traiNNer as x4plus does. Importing
spandrel takes seconds, so engine.archs.table imports this module only when one of these is built.
"""

from __future__ import annotations

from typing import Any, Mapping

import torch
from spandrel.architectures.ESRGAN import ESRGAN
from spandrel.architectures.SPAN import SPAN

from engine.archs import rrdb_layout
from engine.archs.networks import GeneratorSpec


class EsrganGenerator(ESRGAN):
    """ESRGAN's RRDBNet (BasicSR x4 body; x2 behind a pixel-unshuffle, as Real-ESRGAN's x2plus)."""

    value_range = (0.0, 1.0)
    supports_half, supports_bf16 = True, True
    min_size, size_multiple = 1, 1

    def __init__(self, in_channels: int = 3, num_feat: int = 64, num_block: int = 23, scale: int = 4) -> None:
        if scale not in (2, 4):
            raise ValueError("the esrgan generator upsamples x2 or x4 (BasicSR's layouts)")
        shuffle = 4 // scale
        super().__init__(in_nc=in_channels * shuffle * shuffle, out_nc=in_channels, num_filters=num_feat,
                         num_blocks=num_block, scale=4, shuffle_factor=shuffle if shuffle > 1 else None)
        # spandrel's `scale` is the body's (x4); ours is the network's, so forward is our own
        self.in_channels, self.out_channels, self.scale = in_channels, in_channels, scale
        self.num_feat, self.num_block = num_feat, num_block
        self.size_multiple = shuffle

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The body on the input (x4), or on its pixel-unshuffled half-size planes (x2; even sizes)."""
        if self.shuffle_factor:
            x = torch.pixel_unshuffle(x, self.shuffle_factor)
        return self.model(x)

    def state_dict(self, *args: Any, **kwargs: Any) -> dict[str, torch.Tensor]:  # type: ignore[override]
        """BasicSR's keys (`conv_first`, `body.N.rdbM.convK`, ...), whatever spandrel names internally."""
        return rrdb_layout.to_basicsr(super().state_dict(*args, **kwargs))

    def load_state_dict(self, state_dict: Mapping[str, torch.Tensor], strict: bool = True,
                        assign: bool = False) -> Any:
        """Weights in BasicSR's layout (ours, x4plus) or spandrel's."""
        state = dict(state_dict)
        if rrdb_layout.is_basicsr(state):
            state = rrdb_layout.to_spandrel(state)
        return super().load_state_dict(state, strict=strict, assign=assign)

    def spec(self) -> GeneratorSpec:
        return {"arch": "esrgan", "in_channels": self.in_channels, "num_feat": self.num_feat,
                "num_block": self.num_block, "scale": self.scale}


class SpanGenerator(SPAN):
    """SPAN (NTIRE 2024's efficient SR winner): six parameter-free-attention blocks, pixel shuffle; RGB.

    Its `eval_conv` layers are recomputed from the training-time convolutions in eval mode, so they get no
    gradient: they are frozen here and the optimiser skips them.
    """

    value_range = (0.0, 1.0)
    supports_half, supports_bf16 = True, True
    min_size, size_multiple = 1, 1

    def __init__(self, in_channels: int = 3, feature_channels: int = 48, scale: int = 4) -> None:
        if in_channels != 3:
            raise ValueError("the span generator is RGB only (it normalises by an RGB mean)")
        super().__init__(num_in_ch=3, num_out_ch=3, feature_channels=feature_channels, upscale=scale)
        self.scale, self.feature_channels = scale, feature_channels
        for name, parameter in self.named_parameters():
            if "eval_conv" in name:
                parameter.requires_grad_(False)

    def spec(self) -> GeneratorSpec:
        return {"arch": "span", "in_channels": self.in_channels, "feature_channels": self.feature_channels,
                "scale": self.scale}
