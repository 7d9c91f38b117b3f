"""Live validation of a training run: fixed held-out crops, degraded as the run trains (or cut from the
held-out pairs' real LR images), scored on Y.

This watches one run rather than ranking models (engine/scoring/evaluation.py does that, with the published
protocol), so the crops are the run's own kind of input, the same at every validation, and bicubic's
score on them is the baseline. It also notices a collapse: a generator far below bicubic for several
validations in a row has stopped (or never started) learning, and the person should hear about it.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from engine.training.config import TrainConfig
from engine.data.dataset import center_crop, center_pair_crop, make_lr, to_tensor, to_uint8, upscale_bicubic
from engine.scoring.metrics import psnr_y, ssim_y
from engine.training.failures import FrozenGenerator

VAL_CROP = 256  # validation crops are center crops up to this size, so numbers compare step to step
PREVIEW_CROP = 128  # the HR size of the crop shown as previews
PREVIEW_GRID = 4  # how many validation crops the window's previews and the saved progress figure show
COLLAPSE_DB = 5.0  # this far below bicubic ...
COLLAPSE_COUNT = 3  # ... this many validations in a row is a collapse

# A [0, 1] LR batch -> the model's [0, 1] output on the CPU.
SuperResolveBatch = Callable[[torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class Crop:
    """One held-out crop: its LR input (1xCxhxw, [0, 1]), the original and bicubic's result (uint8)."""

    lr: torch.Tensor
    hr: np.ndarray
    bicubic: np.ndarray


@dataclass(frozen=True)
class Score:
    psnr: float
    ssim: float


def make_crop(image: np.ndarray, side: int, config: TrainConfig, seed: int, partner: np.ndarray | None = None) -> Crop:
    """The centred crop of `image`, degraded with a fixed seed so every validation sees the same input;
    with its LR `partner`, the same place of that instead."""
    if partner is not None:
        hr, lr_pixels = center_pair_crop(image, partner, side, config.scale)
        lr = to_tensor(lr_pixels)
    else:
        hr = center_crop(image, side, config.scale)
        lr = make_lr(to_tensor(hr), config, torch.Generator().manual_seed(seed))
    return Crop(lr, hr, to_uint8(upscale_bicubic(lr, config.scale)))


class ValidationSet:
    """The held-out crops of a run, bicubic's score on them, and the crop shown as previews."""

    def __init__(self, images: list[np.ndarray], config: TrainConfig, partners: list[np.ndarray] | None = None) -> None:
        self.scale = config.scale
        held_out = list(zip(images, partners or itertools.repeat(None)))
        self.crops = [make_crop(image, VAL_CROP, config, config.seed + i, partner)
                      for i, (image, partner) in enumerate(held_out)]
        self.previews = [make_crop(image, PREVIEW_CROP, config, config.seed + i, partner)
                        for i, (image, partner) in enumerate(held_out[:PREVIEW_GRID])]
        self.bicubic = self._score([crop.bicubic for crop in self.crops])

    def _score(self, outputs: list[np.ndarray]) -> Score:
        pairs = list(zip(outputs, (crop.hr for crop in self.crops)))
        return Score(float(np.mean([psnr_y(sr, hr, self.scale) for sr, hr in pairs])),
                     float(np.mean([ssim_y(sr, hr, self.scale) for sr, hr in pairs])))

    def outputs(self, super_resolve: SuperResolveBatch, crops: list[Crop] | None = None) -> list[np.ndarray]:
        return [to_uint8(super_resolve(crop.lr)) for crop in (self.crops if crops is None else crops)]

    def score(self, super_resolve: SuperResolveBatch) -> Score:
        return self._score(self.outputs(super_resolve))

    def figure_rows(self, super_resolve: SuperResolveBatch) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """(LR, output, original) of the first crops, for the saved progress figure."""
        crops = self.crops[:PREVIEW_GRID]
        return [(to_uint8(crop.lr), sr, crop.hr) for crop, sr in zip(crops, self.outputs(super_resolve, crops))]


class CollapseWatch:
    """Counts validations in a row that are far below bicubic and no better than the one before (a run
    climbing from random weights is learning, not collapsed); says so once when the count reaches
    COLLAPSE_COUNT."""

    def __init__(self) -> None:
        self.below = 0
        self.previous = -float("inf")

    def state_dict(self) -> dict[str, Any]:
        return {"below": self.below, "previous": self.previous}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.below, self.previous = state["below"], state["previous"]

    def check(self, score: Score, bicubic: Score) -> str | None:
        stuck = score.psnr < bicubic.psnr - COLLAPSE_DB and score.psnr <= self.previous + 0.1
        self.below, self.previous = (self.below + 1 if stuck else 0), score.psnr
        if self.below != COLLAPSE_COUNT:
            return None
        return (f"validation PSNR has stayed more than {COLLAPSE_DB:g} dB below bicubic for {COLLAPSE_COUNT} "
                f"validations ({score.psnr:.1f} vs {bicubic.psnr:.1f} dB): the generator has collapsed or is not "
                f"learning; a lower lr_g, or starting from a pretrained generator, usually helps")


class FrozenWatch:
    """Raises FrozenGenerator when the generator's weights are the same at two validations in a row while
    it is being trained (learning rate above 0): an update that silently does nothing is caught like a NaN."""

    def __init__(self) -> None:
        self.fingerprint: float | None = None

    def check(self, fingerprint: float, learning: bool) -> None:
        if fingerprint == self.fingerprint and learning:
            raise FrozenGenerator()
        self.fingerprint = fingerprint

    def state_dict(self) -> dict[str, Any]:
        return {"fingerprint": self.fingerprint}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.fingerprint = state["fingerprint"]
