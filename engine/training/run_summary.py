"""What a run list shows of a run folder, read from its checkpoint without resuming the run.

The checkpoint is a run's source of truth (engine/training/run_folder.py), so the summary comes from it: the
settings, how far the run got, its best score and its curves. `run_previews` runs the checkpoint's
generator on the run's own preview crops, so a stopped run's previews can be looked at without training.
"""

from __future__ import annotations

import itertools
import math
import os
from dataclasses import dataclass
from pathlib import Path

from engine import events as ev
from engine.training.checkpoint import component_states, load_checkpoint
from engine.training.config import TrainConfig
from engine.errors import DataError
from engine.data.dataset import ImageSet, data_split, load_sources, to_uint8
from engine.data.sizes import min_hr_side
from engine.models.registry import load_model
from engine.training.run_folder import RunFolder, resume_config
from engine.upscaling.batch import Upscaler
from engine.training.validation import PREVIEW_CROP, PREVIEW_GRID, make_crop


@dataclass(frozen=True)
class RunSummary:
    """One run as its checkpoint records it; `config` has the folder's current location as out_dir."""

    folder: Path
    config: TrainConfig
    step: int
    best_psnr: float | None
    best_step: int
    modified: float  # the checkpoint's modification time, seconds since the epoch
    history: tuple[ev.HistoryRecord, ...]

    @property
    def name(self) -> str:
        return self.folder.name

    @property
    def complete(self) -> bool:
        return self.step >= self.config.steps


def read_run(folder: str | os.PathLike[str]) -> RunSummary:
    """The summary of the run in `folder`; CheckpointError when it holds no usable checkpoint."""
    run = RunFolder(folder)
    state = load_checkpoint(run.checkpoint)
    progress, best = state["progress"], component_states(state)["best"]
    return RunSummary(folder=run.root, config=resume_config(TrainConfig.from_dict(state["config"]), run.root),
                      step=int(progress["step"]), best_psnr=best["psnr"] if math.isfinite(best["psnr"]) else None,
                      best_step=int(best["step"]), modified=run.checkpoint.stat().st_mtime,
                      history=tuple(ev.history_from_dicts(progress.get("history", ()))))


def run_folders(base: str | os.PathLike[str]) -> list[Path]:
    """The folders directly under `base` that hold a checkpoint, the most recently saved first."""
    root = Path(base)
    if not root.is_dir():
        return []
    runs = [RunFolder(path) for path in root.iterdir() if path.is_dir()]
    found = [run for run in runs if run.has_checkpoint()]
    return [run.root for run in sorted(found, key=lambda run: run.checkpoint.stat().st_mtime, reverse=True)]


def validation_images(config: TrainConfig) -> ImageSet:
    """The run's held-out images (and LR partners), split as its training split them; empty when the
    folders are gone or no longer pair up."""
    try:
        return load_sources(data_split(config)[1], config.channels, min_hr_side(config.scale), config.scale)
    except DataError:
        return ImageSet(images=[], names=[])


def run_previews(summary: RunSummary) -> ev.Previews | None:
    """The previews the run would show now (its EMA weights on its fixed preview crops), or None when its
    validation images can no longer be read."""
    config = summary.config
    held_out = validation_images(config)
    if not held_out.images:
        return None
    upscaler = Upscaler(load_model(RunFolder(summary.folder).checkpoint, "cpu", "ema"), device="cpu")
    crops = []
    shown = itertools.islice(zip(held_out.images, held_out.lr or itertools.repeat(None)), PREVIEW_GRID)
    for index, (image, partner) in enumerate(shown):
        crop = make_crop(image, PREVIEW_CROP, config, config.seed + index, partner)
        lr = to_uint8(crop.lr)
        crops.append(ev.PreviewCrop(lr, crop.bicubic, upscaler.upscale(lr), crop.hr))
    return ev.Previews(step=summary.step, crops=tuple(crops))
