"""What a run does when an update goes bad (a NaN/inf, a generator that froze): back to the last good
state with half the learning rate of the attempt that failed, on other crops, at most MAX_ROLLBACKS times
in a row before it gives up."""

from __future__ import annotations

from typing import Any

MAX_ROLLBACKS = 3  # consecutive rollbacks without reaching a new good state before the run gives up


class RollbackPolicy:
    """The last good state (in memory), the learning-rate scale and crop reshuffle count that rollbacks
    changed (stored with the run), and how many rollbacks came since the last good state."""

    def __init__(self) -> None:
        self.lr_scale = 1.0  # halved by each rollback
        self.reshuffles = 0  # a rollback draws other crops than the ones that failed
        self.in_a_row = 0
        self.good_state: dict[str, Any] | None = None

    def mark_good(self, state: dict[str, Any]) -> None:
        """`state` (a trainer's capture) is where the next rollback returns to."""
        self.good_state = state
        self.in_a_row = 0

    def next_attempt(self) -> dict[str, Any] | None:
        """The state to go back to, or None when the run should give up."""
        self.in_a_row += 1
        if self.in_a_row > MAX_ROLLBACKS:
            return None
        return self.good_state

    def retried(self, failed_lr_scale: float) -> None:
        """After the good state was restored: half the failed attempt's rate, other crops."""
        self.lr_scale, self.reshuffles = failed_lr_scale * 0.5, self.reshuffles + 1

    def state_dict(self) -> dict[str, Any]:
        return {"lr_scale": self.lr_scale, "reshuffles": self.reshuffles}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.lr_scale, self.reshuffles = state["lr_scale"], state["reshuffles"]
