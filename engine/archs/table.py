"""The trainable generator architectures, in one table: what each is, which scales and channel counts it
takes and what `gen_features` / `gen_blocks` mean for it. Which export formats work is not declared here:
each exporter checks the network itself (ncnn's refuses operations it cannot write).

The training config's choices (GENERATORS, SCALES) and the descriptions of gen_features / gen_blocks, the
window's generator list and the rebuild of an export from its spec all come from here. Not offered, and why:
- MSRResNet (BasicSR's SRResNet): spandrel refuses its state dicts (UnsupportedModelError), so an export
  would load nowhere but here.
- ESRGAN x3: BasicSR's layouts are x1, x2 and x4; spandrel misreads an x3 RRDBNet.
`classic` is ours (the source article's SRGAN); spandrel cannot load it, only this program can.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from torch import nn

from engine.archs.networks import ClassicGenerator, CompactGenerator, GeneratorSpec


@dataclass(frozen=True)
class Architecture:
    """One trainable generator. `build(in_channels, scale, gen_features, gen_blocks)` makes it;
    `rebuild(**spec-without-arch)` makes it again from its `.spec()`."""

    name: str
    build: Callable[[int, int, int, int], nn.Module]
    rebuild: Callable[..., nn.Module]
    scales: tuple[int, ...]
    channels: tuple[int, ...]
    description: str
    fast_on_cpu: bool
    features: str  # what gen_features sets (its description in the config reads this)
    blocks: str  # what gen_blocks sets


def _esrgan(**spec: Any) -> nn.Module:
    from engine.archs.third_party import EsrganGenerator  # imports spandrel (seconds): only when used

    return EsrganGenerator(**spec)


def _span(**spec: Any) -> nn.Module:
    from engine.archs.third_party import SpanGenerator

    return SpanGenerator(**spec)


ARCHITECTURES: dict[str, Architecture] = {arch.name: arch for arch in (
    Architecture(
        "compact", lambda c, s, f, b: CompactGenerator(c, f, b, s), CompactGenerator, (2, 3, 4), (1, 3),
        "Real-ESRGAN's SRVGGNetCompact: plain convolutions at LR size, pixel shuffle; fast everywhere",
        True, "channels of every convolution (num_feat)", "convolutions in the body (num_conv)"),
    Architecture(
        "esrgan", lambda c, s, f, b: _esrgan(in_channels=c, num_feat=f, num_block=b, scale=s), _esrgan, (2, 4),
        (1, 3), "ESRGAN's RRDBNet (Real-ESRGAN x4plus's network), BasicSR key layout; best quality, needs a GPU",
        False, "channels of the trunk (num_feat; x4plus: 64)", "RRDB blocks (num_block; x4plus: 23)"),
    Architecture(
        "span", lambda c, s, f, b: _span(in_channels=c, feature_channels=f, scale=s), _span, (2, 3, 4), (3,),
        "SPAN: parameter-free attention blocks, pixel shuffle; near-ESRGAN quality at a fraction of the cost",
        False, "channels of the blocks (feature_channels; published: 48)", "unused (six blocks, fixed)"),
    Architecture(
        "classic", lambda c, s, f, b: ClassicGenerator(c, s), ClassicGenerator, (2, 4), (1, 3),
        "the source article's SRGAN generator (ours; spandrel cannot load it): dense blocks at HR size",
        False, "unused (fixed widths)", "unused (three dense blocks)"),
)}
GENERATORS = tuple(ARCHITECTURES)
SCALES = tuple(sorted({scale for arch in ARCHITECTURES.values() for scale in arch.scales}))
# Widths and depths a network may have: well above any published model's (x4plus: 64 x 23 RRDB blocks;
# Compact: 64 x 32), and small enough that a bad number is refused here rather than by the allocator
# (10^7 features asks for petabytes; 10^7 layers builds for hours, then std::bad_alloc).
MAX_FEATURES = 1024
MAX_BLOCKS = 256
# The spec entries that give a width or a depth, and their (least, most) values.
_SPEC_RANGES = {"num_feat": (1, MAX_FEATURES), "feature_channels": (1, MAX_FEATURES),
                "num_conv": (0, MAX_BLOCKS), "num_block": (0, MAX_BLOCKS)}


def check_spec(arch: Architecture, spec: dict[str, Any]) -> None:
    """ValueError naming the first entry of a stored spec (a model file's, a checkpoint's) outside what
    `arch` can build: scale, channels, widths and depths are checked before anything is allocated."""
    for name, value in spec.items():
        if not isinstance(value, int) or isinstance(value, bool):
            raise ValueError(f"the stored {arch.name} architecture has {name}={value!r}, not a whole number")
    if spec.get("scale", arch.scales[0]) not in arch.scales:
        raise ValueError(f"the stored {arch.name} architecture upscales x{spec['scale']}; it can only be "
                         f"x{' or x'.join(map(str, arch.scales))}")
    if spec.get("in_channels", arch.channels[0]) not in arch.channels:
        raise ValueError(f"the stored {arch.name} architecture takes {spec['in_channels']} input channels; it "
                         f"can only take {' or '.join(map(str, arch.channels))}")
    for name, (least, most) in _SPEC_RANGES.items():
        if name in spec and not least <= spec[name] <= most:
            raise ValueError(f"the stored {arch.name} architecture has {name}={spec[name]}; it must be "
                             f"{least} to {most}")


def build_generator(spec: GeneratorSpec) -> nn.Module:
    """Rebuild a generator from its spec (as stored in checkpoints and exports)."""
    spec = dict(spec)
    arch = spec.pop("arch", None)
    if arch not in ARCHITECTURES:
        raise ValueError(f"unknown generator architecture {arch!r}; known: {', '.join(GENERATORS)}")
    check_spec(ARCHITECTURES[arch], spec)
    try:
        return ARCHITECTURES[arch].rebuild(**spec)
    except TypeError as exc:
        raise ValueError(f"bad parameters for generator {arch!r}: {exc}") from None
