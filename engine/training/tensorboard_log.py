"""TensorBoard event files for a run (TrainConfig.log_tensorboard): an event consumer, nothing more.

The trainer's plain-data events pass through `logged` on their way to any front end (CLI, window, tests),
which writes the scalars the window plots, the validation crops as images and the config as text into
`RUN/tensorboard/`. `tensorboard` is imported only when asked, so it stays an optional extra.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from engine import events as ev
from engine.training.config import TrainConfig

FOLDER = "tensorboard"
MISSING = ("log_tensorboard is on but the tensorboard package is not installed "
           "(pip install tensorboard); training goes on without event files")


class TensorBoardLog:
    """Turns events into SummaryWriter calls; one writer per run session."""

    def __init__(self, writer: Any) -> None:
        self.writer = writer

    def write(self, event: ev.TrainEvent) -> None:
        add = self.writer.add_scalar
        if isinstance(event, ev.StepMetrics):
            for name, value in event.losses.items():
                add(f"losses/{name}", value, event.step)
            for name, value in (("d_real", event.d_real), ("d_fake", event.d_fake)):
                if value is not None:
                    add(f"discriminator/{name}", value, event.step)
            add("learning_rate/generator", event.lr_g, event.step)
            add("learning_rate/discriminator", event.lr_d, event.step)
        elif isinstance(event, ev.Validation):
            for name in ("psnr", "ssim", "bicubic_psnr", "bicubic_ssim"):
                add(f"validation/{name}", getattr(event, name), event.step)
        elif isinstance(event, ev.Previews):
            for index, crop in enumerate(event.crops):
                # bicubic | model | ground truth, side by side at HR size
                row = np.concatenate([crop.bicubic, crop.sr, crop.hr], axis=1)
                row = np.repeat(row, 3, axis=2) if row.ndim == 3 and row.shape[2] == 1 else row
                self.writer.add_image(f"previews/{index}", row, event.step, dataformats="HWC")
        elif isinstance(event, ev.Finished):
            self.writer.flush()

    def close(self) -> None:
        self.writer.close()


def config_text(config: TrainConfig) -> str:
    """The config as a Markdown code block (TensorBoard's text tab renders Markdown)."""
    body = json.dumps(config.to_dict(), indent=2, sort_keys=True, default=str)
    return "\n".join("    " + line for line in body.splitlines())


def logged(events: Iterator[ev.TrainEvent], config: TrainConfig, run_root: Path,
           step: int = 0) -> Iterator[ev.TrainEvent]:
    """`events`, unchanged, written to TensorBoard on the way; a TrainWarning first when it is not installed."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        yield ev.TrainWarning(step=step, code="no-tensorboard", message=MISSING)
        yield from events
        return
    log = TensorBoardLog(SummaryWriter(log_dir=str(Path(run_root) / FOLDER)))
    try:
        log.writer.add_text("config", config_text(config), step)
        for event in events:
            log.write(event)
            yield event
    finally:
        log.close()
