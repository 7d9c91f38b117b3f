"""Plain-data events that the trainer and the upscaler yield.

The window, the command line and the tests all consume the same stream. Events carry floats,
strings and numpy arrays only, never tensors, so they can cross threads safely.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
import dataclasses
from dataclasses import dataclass, field
from typing import Any

import numpy as np


# ----------------------------------------------------------------------------- training
@dataclass(frozen=True)
class StepMetrics:
    """One optimisation step. `losses` holds d_loss, g_loss and every part (g_pixel, g_perceptual,
    g_adversarial, d_gp, ...); terms that are off in this phase are absent."""

    step: int
    total_steps: int
    phase: str  # "pretrain" | "gan"
    losses: dict[str, float]
    d_real: float | None
    d_fake: float | None
    lr_g: float
    lr_d: float
    steps_per_s: float  # smoothed over recent steps; 0 when unknown (replayed history)
    eta_s: float


@dataclass(frozen=True)
class Validation:
    """PSNR/SSIM on the Y channel of the held-out split, with bicubic's as the baseline."""

    step: int
    psnr: float
    ssim: float
    bicubic_psnr: float
    bicubic_ssim: float
    is_best: bool


@dataclass(frozen=True)
class PreviewCrop:
    """One fixed validation crop: HxWxC uint8 arrays (LR at its own size, the others at HR size)."""

    lr: np.ndarray
    bicubic: np.ndarray
    sr: np.ndarray
    hr: np.ndarray


@dataclass(frozen=True)
class Previews:
    """The same validation crops at every validation, so a person sees the generator learn."""

    step: int
    crops: tuple[PreviewCrop, ...]


@dataclass(frozen=True)
class CheckpointSaved:
    step: int
    path: str
    reason: str  # "periodic" | "requested" | "stop" | "error" | "final" | "phase"


@dataclass(frozen=True)
class PhaseChanged:
    step: int
    phase: str  # "pretrain" | "gan"


@dataclass(frozen=True)
class TrainWarning:
    """Something a person should see in the window, e.g. code 'no-vgg-weights', 'skipped-file',
    'd-stuck'."""

    step: int
    code: str
    message: str


@dataclass(frozen=True)
class Rollback:
    """An update went bad (`term` {`problem`}: a loss went NaN/inf, the generator froze): the run went back
    to the last good checkpoint with a lower LR."""

    step: int
    term: str
    to_step: int
    lr_g: float
    lr_d: float
    problem: str = "became NaN/inf"


# ----------------------------------------------------------------------------- the curve history
@dataclass(frozen=True)
class StepRecord:
    """One step of the curves, as a run keeps and stores it (speed and ETA are not kept)."""

    step: int
    phase: str
    losses: dict[str, float]
    d_real: float | None
    d_fake: float | None
    lr_g: float
    lr_d: float


@dataclass(frozen=True)
class ValidationRecord:
    """One validation of the curves."""

    step: int
    psnr: float
    ssim: float
    bicubic_psnr: float
    bicubic_ssim: float


HistoryRecord = StepRecord | ValidationRecord
_KINDS: dict[str, type[StepRecord] | type[ValidationRecord]] = {"step": StepRecord, "validation": ValidationRecord}


def history_to_dicts(history: Iterable[HistoryRecord]) -> list[dict[str, Any]]:
    """The stored form (checkpoints): plain dicts with a "kind" of "step" or "validation"."""
    kinds = {kind: name for name, kind in _KINDS.items()}
    return [{"kind": kinds[type(record)], **dataclasses.asdict(record)} for record in history]


def history_from_dicts(stored: Iterable[dict[str, Any]]) -> list[HistoryRecord]:
    """The records a stored history stands for."""
    records: list[HistoryRecord] = []
    for item in stored:
        values = dict(item)
        records.append(_KINDS[values.pop("kind")](**values))
    return records


@dataclass(frozen=True)
class Resumed:
    """A run continues from its checkpoint; the next StepMetrics is step `step + 1`. `history` holds the
    earlier curves, so a window opened after a restart can redraw them: `replay_history` turns them back
    into events."""

    step: int
    path: str
    history: tuple[HistoryRecord, ...] = ()


def replay_history(history: Iterable[HistoryRecord],
                   total_steps: int) -> Iterator[StepMetrics | Validation | PhaseChanged]:
    """The StepMetrics, Validation and PhaseChanged events that a stored history stands for (speed and
    ETA were not stored, so they are 0)."""
    phase = None
    for record in history:
        if isinstance(record, ValidationRecord):
            yield Validation(step=record.step, psnr=record.psnr, ssim=record.ssim, bicubic_psnr=record.bicubic_psnr,
                             bicubic_ssim=record.bicubic_ssim, is_best=False)
            continue
        if record.phase != phase:
            phase = record.phase
            yield PhaseChanged(step=record.step - 1, phase=phase)
        yield StepMetrics(step=record.step, total_steps=total_steps, phase=phase, losses=record.losses,
                          d_real=record.d_real, d_fake=record.d_fake, lr_g=record.lr_g, lr_d=record.lr_d,
                          steps_per_s=0.0, eta_s=0.0)


@dataclass(frozen=True)
class Finished:
    """The last event of every run. `reason` is 'completed', 'stopped' or 'failed'."""

    step: int
    reason: str
    message: str
    export_path: str | None
    checkpoint_path: str | None


TrainEvent = (StepMetrics | Validation | Previews | CheckpointSaved | PhaseChanged | TrainWarning | Rollback | Resumed
              | Finished)


# ----------------------------------------------------------------------------- upscaling
@dataclass(frozen=True)
class BackendChosen:
    """The model a batch runs, the engine and device it runs in ('ncnn on the CPU (2 tile threads,
    Winograd, fp32)'), and a note when `auto` could not use the fastest one for it (said once per batch)."""

    model: str
    scale: int
    description: str
    note: str = ""


@dataclass(frozen=True)
class TileProgress:
    """Progress within one image: `done` of `total` tiles."""

    index: int  # position of the item in the batch
    path: str
    done: int
    total: int


@dataclass(frozen=True)
class ItemStarted:
    index: int
    path: str
    total_items: int


@dataclass(frozen=True)
class ItemRead:
    """An image is decoded: its pixels (alpha apart), its size and its result's, and what describes the photo
    (colour profile, EXIF), so a caller that shows or saves it later never decodes the file again."""

    index: int
    path: str
    pixels: np.ndarray
    alpha: np.ndarray | None
    in_size: tuple[int, int]
    out_size: tuple[int, int]
    icc: bytes | None
    exif: bytes | None


@dataclass(frozen=True)
class ItemDone:
    index: int
    path: str
    output_path: str | None  # None when the caller asked for the image only (no file written)
    image: np.ndarray | None  # the result as it is saved (HxWxC uint8 or uint16, C = 1 to 4), when asked for
    seconds: float
    warnings: tuple[str, ...] = ()  # what the result lacks, e.g. "animated (12 frames): first frame only"


@dataclass(frozen=True)
class ItemFailed:
    index: int
    path: str
    message: str


@dataclass(frozen=True)
class BatchDone:
    succeeded: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)  # (path, reason)
    cancelled: bool = False
