"""A PNG written in one call through the engine's streaming writer (the engine itself streams rows)."""

from __future__ import annotations

from typing import BinaryIO

import numpy as np

from engine.io.png import PngStream


def write_png(file: BinaryIO, pixels: np.ndarray, icc: bytes | None = None, exif: bytes | None = None) -> None:
    """HxWxC (or HxW) uint8/uint16 pixels as a PNG, with an ICC profile and EXIF when given."""
    if pixels.ndim == 2:
        pixels = pixels[..., None]
    height, width, channels = pixels.shape
    with PngStream(file, width, height, channels, pixels.dtype.type, icc, exif) as stream:
        stream.write_rows(pixels)
