"""The Upscale tab's job: the engine's BatchUpscaler, with every input and result moved into the result
store on the worker thread, so the window only ever receives file names, sizes and thumbnails."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine import events as ev
from engine.io.images import ImageReadError, read_image
from engine.models.registry import load_model
from engine.upscaling.batch import BatchUpscaler, UpscaleOptions, target_size
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

    def _started(self, event: ev.ItemStarted, scale: int) -> tuple[RowStarted | None, StoredImage | None]:
        """Keep the original for the comparison; a file that cannot be read fails in the engine next."""
        try:
            image = read_image(event.path, self.options.max_pixels)
        except ImageReadError:
            return None, None
        before = self.store.put(displayable(image.pixels, image.alpha), "before")
        width, height = image.size
        out_size = target_size(width, height, scale, self.options.scale, self.options.width)
        return RowStarted(event.index, image.size, out_size, image.icc, image.exif), before

    def run(self) -> Iterator[UpscaleEvent]:
        model = load_model(self.options.model, which=self.options.which)
        self._batch = BatchUpscaler([str(path) for path in self.paths], self.options, model=model)
        if self._stop.is_set():
            self._batch.request_stop()
        before: StoredImage | None = None
        for event in self._batch.run():
            if isinstance(event, ev.ItemStarted):
                started, before = self._started(event, model.scale)
                if started is not None:
                    yield started
            elif isinstance(event, ev.ItemDone):
                after = self.store.put(event.image, "after")
                thumbnail = np.ascontiguousarray(shrink(displayable(event.image), THUMB_SIDE))
                yield RowDone(event.index, before or after, after, thumbnail, event.seconds, event.warnings)
            else:
                yield event
