"""A growing (x, y) buffer with an incrementally kept EMA-smoothed copy.

Events only append here (O(1) amortised); the plots read views of it on their own timer.
"""

from __future__ import annotations

import numpy as np


class Series:
    def __init__(self, smoothing: float = 0.0, capacity: int = 1024) -> None:
        self._x = np.empty(capacity, dtype=np.float64)
        self._y = np.empty(capacity, dtype=np.float64)
        self._smooth = np.empty(capacity, dtype=np.float64)
        self._count = 0
        self._smoothing = smoothing

    def __len__(self) -> int:
        return self._count

    def append(self, x: float, y: float) -> None:
        if self._count == len(self._x):
            self._x, self._y, self._smooth = (np.resize(a, 2 * len(a)) for a in (self._x, self._y, self._smooth))
        i = self._count
        self._x[i], self._y[i] = x, y
        self._smooth[i] = self._smoothed_next(self._smooth[i - 1] if i else y, y)
        self._count += 1

    def _smoothed_next(self, previous: float, value: float) -> float:
        if not np.isfinite(previous):
            return value
        return self._smoothing * previous + (1.0 - self._smoothing) * value

    def set_smoothing(self, smoothing: float) -> None:
        """Recompute the smoothed copy for a new factor (0 = raw, towards 1 = smoother)."""
        self._smoothing = smoothing
        previous = np.nan
        for i in range(self._count):
            previous = self._smooth[i] = self._smoothed_next(previous, self._y[i])

    def data(self, smoothed: bool = True) -> tuple[np.ndarray, np.ndarray]:
        n = self._count
        return self._x[:n], (self._smooth if smoothed else self._y)[:n]
