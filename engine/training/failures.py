"""The ways an update can leave a run in a state it must not continue from. The trainer rolls back to
the last good state on each (engine/training/rollback.py); the names say what happened, for the person."""

from __future__ import annotations


class BadUpdate(Exception):
    """`term` names the part that went bad, `problem` what happened to it."""

    problem = "went bad"
    repeated = "kept going bad"

    def __init__(self, term: str) -> None:
        super().__init__(f"{term} {self.problem}")
        self.term = term


class NonFiniteLoss(BadUpdate):
    """A loss term, weight or optimizer state went NaN/inf."""

    problem = "became NaN/inf"
    repeated = "kept going NaN/inf"


class FrozenGenerator(BadUpdate):
    """The generator's weights stopped changing between validations although its learning rate is not 0
    and its loss is finite: as stuck as a NaN (e.g. Adam's moments overflowed to inf)."""

    problem = "stopped changing although its loss is finite"
    repeated = "kept freezing"

    def __init__(self) -> None:
        super().__init__("the generator's weights")
