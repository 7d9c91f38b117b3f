"""Training speed for the progress line: seconds per step, smoothed so the ETA does not jump with every
validation or checkpoint. Not stored: a resumed run measures its own machine again."""

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
