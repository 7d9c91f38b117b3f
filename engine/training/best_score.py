"""The best validation score of a run so far, and the weights that scored it: best.safetensors is
exported from them, and a checkpoint stores them so a crash never loses the best model."""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from typing import Any

import torch

Weights = dict[str, torch.Tensor]
# The validation at step 1 shows where a run starts: the weights it began from, one update in (for the default
# run, the bundled pixel model, whose PSNR a GAN rarely beats). It is the baseline, never offered as the run's best.
FIRST_CANDIDATE_STEP = 2


class BestScore:
    """Keeps the highest validation PSNR, its step and a CPU copy of the weights, plus the last
    validation's numbers (exports record them)."""

    def __init__(self) -> None:
        self.psnr = -math.inf
        self.step = 0
        self.generator: Weights | None = None
        self.last_validation: dict[str, float] | None = None

    def update(self, step: int, numbers: dict[str, float], weights: Callable[[], Weights]) -> bool:
        """Record a validation (`numbers` has its "psnr"); returns whether it is the best so far of the trained
        weights (from FIRST_CANDIDATE_STEP on), and then keeps `weights()`."""
        self.last_validation = dict(numbers)
        if step < FIRST_CANDIDATE_STEP or numbers["psnr"] <= self.psnr:
            return False
        self.psnr, self.step, self.generator = numbers["psnr"], step, weights()
        return True

    @property
    def finite_psnr(self) -> float | None:
        """The best PSNR, or None before any validation (JSON metadata has no -inf)."""
        return self.psnr if math.isfinite(self.psnr) else None

    def state_dict(self) -> dict[str, Any]:
        """Copies: the trainer keeps a captured state as its rollback point while training goes on."""
        return {"psnr": self.psnr, "step": self.step, "last_validation": copy.deepcopy(self.last_validation),
                "generator": copy.deepcopy(self.generator)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.psnr, self.step = state["psnr"], state["step"]
        self.last_validation = copy.deepcopy(state["last_validation"])
        self.generator = copy.deepcopy(state["generator"])
