"""Saving upscaled results without ever replacing a file silently."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from engine.imageio import ImageReadError, read_image, save_image

FORMATS = ("png", "jpg", "webp")


def unique_path(path: Path) -> Path:
    """`path`, or 'name (1).ext', 'name (2).ext', ... whichever does not exist yet."""
    candidate, number = path, 1
    while candidate.exists():
        candidate = path.with_name(f"{path.stem} ({number}){path.suffix}")
        number += 1
    return candidate


def result_name(source: Path, fmt: str) -> str:
    return f"{source.stem}_upscaled.{fmt}"


def save_result(result: np.ndarray, source: Path, target: Path, fmt: str | None, quality: int,
                overwrite: bool = False) -> Path:
    """Write atomically, carrying the source's colour profile and EXIF when it is still readable."""
    try:
        original = read_image(source)
        icc, exif = original.icc, original.exif
    except ImageReadError:
        icc = exif = None
    return save_image(result, target, fmt, quality, icc=icc, exif=exif, overwrite=overwrite)
