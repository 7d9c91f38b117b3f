"""A value axis whose labels never pile up, on a linear or a log scale.

pyqtgraph labels every 1..9 x 10^k tick when fewer than three decades are shown, so the 7, 8 and 9
labels of a decade print on top of each other in a short plot, and a range inside one decade gets
one-digit labels ("0.6", "0.6"). This axis labels the densest of 1..9, 1-2-5, 1-3 or 1 per decade
(or every few decades) whose labels keep apart, and plain round values inside a single decade.
"""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg

MIN_GAP_PX = 20  # between two neighbouring labels' centres
MANTISSAS = ((1, 2, 3, 4, 5, 6, 7, 8, 9), (1, 2, 5), (1, 3), (1,))


def _spaced(ticks: list[float], px_per_unit: float, gap: float) -> bool:
    return len(ticks) >= 2 and float(np.min(np.diff(ticks))) * px_per_unit >= gap


def round_values(low: float, high: float, count: int) -> list[float]:
    """Round values (1, 2 or 5 x 10^k apart) between `low` and `high`: at most `count` of them where that
    still gives two, else the two or more that the next finer spacing gives."""
    raw = (high - low) / max(1, count)
    power = 10 ** math.floor(math.log10(raw))
    candidates = [m * power for m in (0.1, 0.2, 0.5, 1, 2, 5, 10)]
    order = [step for step in candidates if step >= raw] + [step for step in reversed(candidates) if step < raw]
    for step in order:
        values = [k * step for k in range(math.ceil(low / step), math.floor(high / step) + 1)]
        if len(values) >= 2:
            break
    return values


def log_ticks(low: float, high: float, size_px: float, gap: float = MIN_GAP_PX) -> list[float]:
    """Tick positions (log10 of the values) for a log axis showing log10 values low..high."""
    if not (math.isfinite(low) and math.isfinite(high)) or high <= low or size_px <= 0:
        return []
    px_per_decade = size_px / (high - low)
    decades = range(math.floor(low), math.ceil(high) + 1)
    for mantissas in MANTISSAS:
        ticks = [d + math.log10(m) for d in decades for m in mantissas if low <= d + math.log10(m) <= high]
        if _spaced(ticks, px_per_decade, gap):
            return ticks
    for every in (2, 3, 5, 10, 20, 50):
        ticks = [float(d) for d in decades if low <= d <= high and d % every == 0]
        if _spaced(ticks, px_per_decade, gap):
            return ticks
    values = round_values(10 ** low, 10 ** high, max(2, int(size_px // gap)))
    return [math.log10(v) for v in values if v > 0]


class ReadableAxis(pg.AxisItem):
    """A value axis whose labels keep MIN_GAP_PX apart: round values on a linear scale (pyqtgraph always
    labels its first tick level, four labels in a 40-pixel plot), `log_ticks` on a log scale."""

    def tickValues(self, minVal: float, maxVal: float, size: float) -> list:  # noqa: N802
        if self.logMode:
            return super().tickValues(minVal, maxVal, size)
        low, high = sorted((minVal, maxVal))
        if not (math.isfinite(low) and math.isfinite(high)) or high <= low:
            return [(1.0, [low])]
        values = round_values(low, high, max(2, int(size // MIN_GAP_PX)))
        return [(values[1] - values[0] if len(values) > 1 else high - low, values)]

    def logTickValues(self, minVal: float, maxVal: float, size: float, stdTicks: list) -> list:  # noqa: N802
        return [(None, log_ticks(minVal, maxVal, size))]

    def logTickStrings(self, values: list[float], scale: float, spacing: float) -> list[str]:  # noqa: N802
        return [f"{10 ** value * scale:.3g}" for value in values]
