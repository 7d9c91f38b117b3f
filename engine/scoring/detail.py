"""Where an image has detail: the gradient magnitude, and the crop with the most of it. The sample set
(scripts/make_sample_set.py) is cut where photos are most detailed, and bench/quality.py compares
detail kept and crops its figures by the same measure."""

from __future__ import annotations

import numpy as np


def gradient_magnitude(gray: np.ndarray) -> np.ndarray:
    """|dx| + |dy| per pixel of a 2-D array: cheap, and high exactly where there is edge and texture."""
    gradient = np.zeros(gray.shape, dtype=np.float64)
    gradient[:, 1:] += np.abs(np.diff(gray, axis=1))
    gradient[1:, :] += np.abs(np.diff(gray, axis=0))
    return gradient


def most_detailed_box(gray: np.ndarray, size: int, stride: int = 8) -> tuple[tuple[int, int, int, int], float]:
    """The size x size (left, top, right, bottom) box with the largest mean gradient magnitude, searched
    on a `stride`-px grid (box sums from an integral image), and that mean."""
    integral = np.pad(gradient_magnitude(gray).cumsum(0).cumsum(1), ((1, 0), (1, 0)))
    tops = np.arange(0, gray.shape[0] - size + 1, stride)
    lefts = np.arange(0, gray.shape[1] - size + 1, stride)
    ys, xs = np.meshgrid(tops, lefts, indexing="ij")
    sums = integral[ys + size, xs + size] - integral[ys, xs + size] - integral[ys + size, xs] + integral[ys, xs]
    row, col = np.unravel_index(np.argmax(sums), sums.shape)
    top, left = int(tops[row]), int(lefts[col])
    return (left, top, left + size, top + size), float(sums[row, col]) / size**2
