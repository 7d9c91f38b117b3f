"""numpy HxWxC uint8 arrays <-> QImage, without copying pixel data where Qt allows it."""

from __future__ import annotations

import numpy as np
from PySide6.QtGui import QImage

_FORMATS = {1: QImage.Format.Format_Grayscale8, 3: QImage.Format.Format_RGB888, 4: QImage.Format.Format_RGBA8888}


def to_qimage(pixels: np.ndarray) -> QImage:
    """A QImage viewing `pixels` (HxW, HxWx1, HxWx3 or HxWx4 uint8). The QImage keeps the array
    alive through a reference, so the caller need not hold it."""
    array = pixels if pixels.ndim == 3 else pixels[:, :, None]
    if array.dtype != np.uint8 or array.shape[2] not in _FORMATS:
        raise ValueError(f"expected HxWx1/3/4 uint8 pixels, got {array.shape} {array.dtype}")
    array = np.ascontiguousarray(array)
    height, width, channels = array.shape
    image = QImage(array.data, width, height, width * channels, _FORMATS[channels])
    image._pixels = array  # type: ignore[attr-defined] - ties the buffer's lifetime to the image
    return image
