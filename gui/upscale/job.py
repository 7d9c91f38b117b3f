"""The Upscale tab's job: the engine's BatchUpscaler, with every input and result moved into the result
store on the worker thread, so the window only ever receives file names, sizes and thumbnails. Each file is
decoded once, by the engine, which also gives the output size (ItemRead)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine import events as ev
from engine.models.strength import load_at_strength
from engine.upscaling.batch import BatchUpscaler, UpscaleOptions
from gui.upscale.result_store import THUMB_SIDE, ResultStore, StoredImage, displayable, shrink


@dataclass(frozen=True)
class RowStarted:
    """An image is being upscaled: its size, the size its result will have, and what describes the photo
    (colour profile, EXIF) for the files its result is saved to."""

    index: int
    in_size: tuple[int, int]
    out_size: tuple[int, int]
    icc: bytes | None
    exif: bytes | None


@dataclass(frozen=True)
class RowDone:
    """An image's result is in the store: the original and the result, and a thumbnail for its row."""

    index: int
    before: StoredImage
    after: StoredImage
    thumbnail: np.ndarray
    seconds: float
    warnings: tuple[str, ...] = ()  # what the result lacks, e.g. an animation's other frames


UpscaleEvent = RowStarted | RowDone | ev.TileProgress | ev.ItemFailed | ev.BatchDone


class UpscaleJob:
    """Upscale `paths` (files) with one set of options; `run()` yields UpscaleEvents on the worker thread.

    The model is loaded here, on the worker, so a slow or broken model never blocks the window; its
    errors end the job (JobWorker.failed) before any image starts.
    """

    def __init__(self, paths: list[Path], options: UpscaleOptions, store: ResultStore) -> None:
        self.paths = paths
        self.options = options
        self.store = store
        self._batch: BatchUpscaler | None = None
        self._stop = threading.Event()

    def request_stop(self) -> None:
        self._stop.set()
        if self._batch is not None:
            self._batch.request_stop()

    def run(self) -> Iterator[UpscaleEvent]:
        model = load_at_strength(self.options.model, self.options.which, self.options.strength)
        self._batch = BatchUpscaler([str(path) for path in self.paths], self.options, model=model)
        if self._stop.is_set():
            self._batch.request_stop()
        before: StoredImage | None = None
        for event in self._batch.run():
            if isinstance(event, ev.ItemRead):  # the original is kept for the comparison
                before = self.store.put(displayable(event.pixels, event.alpha), "before")
                yield RowStarted(event.index, event.in_size, event.out_size, event.icc, event.exif)
            elif isinstance(event, ev.ItemStarted):
                before = None
            elif isinstance(event, ev.ItemDone):
                after = self.store.put(event.image, "after")
                thumbnail = np.ascontiguousarray(shrink(displayable(event.image), THUMB_SIDE))
                yield RowDone(event.index, before or after, after, thumbnail, event.seconds, event.warnings)
            else:
                yield event
