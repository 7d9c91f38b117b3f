"""Reading a run for the run list: its summary, the run folders of a base folder, fresh previews."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from engine import events as ev
from engine.errors import CheckpointError
from engine.training.config import TrainConfig
from engine.training.run_summary import run_previews, read_run, run_folders
from engine.training.trainer import Trainer


@pytest.fixture
def stopped_run(tiny_config: TrainConfig, tmp_path: Path) -> Path:
    config = tiny_config.replace(out_dir=str(tmp_path / "runs" / "first"), steps=6, perceptual_weight=0)
    trainer = Trainer(config)
    for event in trainer.run():
        if getattr(event, "step", 0) == 3:
            trainer.request_stop()
    return Path(config.out_dir)


def test_summary_of_a_stopped_run(stopped_run: Path, image_folder: Path) -> None:
    summary = read_run(stopped_run)
    assert (summary.name, summary.step, summary.config.steps, summary.complete) == ("first", 3, 6, False)
    assert summary.config.out_dir == str(stopped_run) and summary.config.data_dir == str(image_folder)
    assert summary.best_psnr is not None and summary.best_psnr > 10 and summary.best_step in (1, 2)
    assert [record.step for record in summary.history if isinstance(record, ev.StepRecord)] == [1, 2, 3]


def test_run_folders_lists_runs_with_checkpoints_newest_first(stopped_run: Path, tmp_path: Path) -> None:
    runs = stopped_run.parent
    (runs / "empty").mkdir()
    older = runs / "older"
    older.mkdir()
    (older / "checkpoint.pt").write_bytes((stopped_run / "checkpoint.pt").read_bytes())
    os.utime(older / "checkpoint.pt", (1_000_000, 1_000_000))
    assert run_folders(runs) == [stopped_run, older]
    assert run_folders(tmp_path / "nowhere") == []
    (older / "checkpoint.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError):
        read_run(older)


def test_preview_samples_runs_the_checkpoint_on_the_sample_crops(stopped_run: Path, image_folder: Path) -> None:
    previews = run_previews(read_run(stopped_run))
    assert previews is not None and previews.step == 3 and len(previews.crops) == 2  # the tiny run holds out 2
    crop = previews.crops[0]
    assert crop.sr.shape == crop.hr.shape == crop.bicubic.shape and crop.sr.dtype == np.uint8
    assert crop.lr.shape[0] * 4 == crop.hr.shape[0]
    for image in image_folder.iterdir():
        image.unlink()
    assert run_previews(read_run(stopped_run)) is None  # the images are gone: no previews, no error
