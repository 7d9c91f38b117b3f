"""What a queue row stands for: one image, how it is upscaled (RunSpec), where it stands, and where its
result is: in the result store, and once saved, on disk."""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path

from PySide6.QtGui import QImage

from engine.upscaling.batch import scale_label
from gui.upscale.result_store import StoredImage


class State(Enum):
    QUEUED = "Queued"
    RUNNING = "Upscaling"
    CANCELLING = "Cancelling…"  # Cancel was pressed; the engine has not stopped yet
    DONE = "Done"
    FAILED = "Failed"
    CANCELLED = "Cancelled"


@dataclass(frozen=True)
class RunSpec:
    """How a row is upscaled: the model (a file or bundled name, and which weights of a checkpoint),
    the output size asked for (the model's own scale, a scale, or a width), the engine, the device, and the
    strength (the model mixed with its partner; None = the model as it is)."""

    model: str
    which: str
    model_label: str
    scale: float | None = None
    width: int | None = None
    device: str = "auto"
    backend: str = "auto"
    strength: float | None = None

    def size_label(self) -> str:
        if self.width is not None:
            return f"{self.width} px wide"
        return "model's scale" if self.scale is None else f"×{scale_label(self.scale)}"


_keys = itertools.count()


@dataclass(eq=False)
class Entry:
    path: Path
    spec: RunSpec
    sub_dir: Path | None = None  # set for images of a dropped folder: their place in the output folder
    key: int = field(default_factory=lambda: next(_keys))
    state: State = State.QUEUED
    message: str = ""  # why it failed
    warnings: tuple[str, ...] = ()  # what a finished result lacks (an animation's other frames)
    progress: float = 0.0
    started: float | None = None  # time.monotonic() when upscaling began
    seconds: float | None = None
    in_size: tuple[int, int] | None = None
    out_size: tuple[int, int] | None = None
    icc: bytes | None = None
    exif: bytes | None = None
    before: StoredImage | None = None
    result: StoredImage | None = None
    thumbnail: QImage | None = None
    saving: bool = False
    saved_to: Path | None = None
    save_error: str = ""

    def elapsed(self) -> float | None:
        if self.seconds is not None:
            return self.seconds
        return None if self.started is None else time.monotonic() - self.started

    def scale_text(self) -> str:
        """'×4' once the sizes are known, else what was asked for."""
        if self.in_size and self.out_size:
            return f"×{scale_label(self.out_size[0] / self.in_size[0])}"
        return self.spec.size_label()
