"""Training time: the speed for the progress line (seconds per step, smoothed so the ETA does not jump with
every validation or checkpoint) and when a validation is due by time. Not stored: a resumed run measures
its own machine again, and its timed validations start over."""

from __future__ import annotations

import time

SPEED_SMOOTHING = 0.9


class StepClock:
    """Call `tick()` after each step; `steps_per_s` and `eta_s` read the smoothed speed."""

    def __init__(self) -> None:
        self.seconds_per_step = 0.0
        self._last = time.perf_counter()

    def restart(self) -> None:
        """Time from now (the loop starts; setup and startup events are not a step)."""
        self._last = time.perf_counter()

    def tick(self) -> None:
        now = time.perf_counter()
        elapsed, self._last = now - self._last, now
        self.seconds_per_step = elapsed if not self.seconds_per_step else (
            SPEED_SMOOTHING * self.seconds_per_step + (1 - SPEED_SMOOTHING) * elapsed)

    @property
    def steps_per_s(self) -> float:
        return 1.0 / max(self.seconds_per_step, 1e-9)

    def eta_s(self, steps_left: int) -> float:
        return steps_left / self.steps_per_s


class ValidationTimer:
    """Due `seconds` after the last validation (whatever made it), the wait doubling after each timed one,
    so a slow run shows its progress early and then mostly by its steps; never with `seconds` 0."""

    def __init__(self, seconds: float) -> None:
        self.wait = seconds
        self._last = time.perf_counter()

    def due(self) -> bool:
        return self.wait > 0 and time.perf_counter() - self._last >= self.wait

    def validated(self, timed: bool) -> None:
        self._last = time.perf_counter()
        if timed:
            self.wait *= 2
