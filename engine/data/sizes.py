"""The smallest image side a model is trained, validated or scored on, so every module refuses the same
images: its LR must be at least MIN_LR_SIDE pixels a side, enough for the discriminators' strided
layers and SSIM's window to see something."""

from __future__ import annotations

MIN_LR_SIDE = 8


def min_hr_side(scale: int) -> int:
    """The smallest HR side (and crop) for a model of this upscaling factor."""
    return MIN_LR_SIDE * scale
