"""Runs the queue's waiting rows on a worker thread, one batch at a time: a batch is the first waiting
row and every other waiting row upscaled the same way (RunSpec). Rows added meanwhile wait for the next."""

from __future__ import annotations

import time

from PySide6.QtCore import QObject, QTimer, Signal

from engine import events as ev
from engine.upscaling.batch import OptionsError, UpscaleOptions
from engine.qt.job_worker import JobWorker
from gui.common.images import to_qimage
from gui.upscale.queue_entry import Entry, RunSpec, State
from gui.upscale.result_store import ResultStore
from gui.upscale.job import RowDone, RowStarted, UpscaleJob

TICK_MS = 500  # how often a running row's time is redrawn between progress events


def engine_options(spec: RunSpec) -> UpscaleOptions:
    """The engine's options for a row: results come back as images (the store keeps them), no file written."""
    return UpscaleOptions(model=spec.model, which=spec.which, backend=spec.backend, device=spec.device, out_dir=None,
                          return_image=True, scale=spec.scale, width=spec.width, strength=spec.strength)


class BatchRunner(QObject):
    entry_changed = Signal(object)  # an Entry to redraw
    entry_done = Signal(object)  # an Entry whose result is in the store
    problem = Signal(str)  # a whole batch could not run, e.g. its model did not load
    engine_chosen = Signal(str, str)  # the engine and device a batch runs in, and a note when auto fell back
    busy_changed = Signal(bool)

    def __init__(self, store: ResultStore, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._store = store
        self._worker: JobWorker | None = None
        self._batch: list[Entry] = []
        self._cancelling = False
        self._tick = QTimer(self, interval=TICK_MS)
        self._tick.timeout.connect(self._redraw_running)

    def is_running(self) -> bool:
        return self._worker is not None

    def is_cancelling(self) -> bool:
        """Cancel was pressed and the running batch has not ended yet."""
        return self._cancelling

    def run(self, waiting: list[Entry]) -> bool:
        """Start a batch from `waiting` unless one is running; True when one started."""
        if self._worker is not None or not waiting:
            return False
        spec = waiting[0].spec
        batch = [entry for entry in waiting if entry.spec == spec]
        try:
            options = engine_options(spec)
        except OptionsError as exc:
            for entry in batch:
                self._set(entry, State.FAILED, str(exc))
            return self.run([entry for entry in waiting if entry.state is State.QUEUED])
        self._batch = batch
        self._worker = JobWorker(UpscaleJob([entry.path for entry in batch], options, self._store))
        self._worker.event.connect(self._on_event)
        self._worker.failed.connect(self._on_failed)
        self._worker.finished.connect(self._on_finished)
        self._worker.start()
        self._tick.start()
        self.busy_changed.emit(True)
        return True

    def cancel(self, entries: list[Entry]) -> None:
        """Waiting `entries` are not started; the running image says "Cancelling…" until the engine lets
        go of it (within a fraction of a second: the tile in flight is abandoned, not waited for)."""
        for entry in entries:
            if entry.state is State.QUEUED:
                self._set(entry, State.CANCELLED)
        if self._worker is not None:
            self._cancelling = True
            for entry in self._batch:
                if entry.state is State.RUNNING:
                    self._set(entry, State.CANCELLING)
            self._worker.request_stop()

    def _set(self, entry: Entry, state: State, message: str = "") -> None:
        entry.state, entry.message = state, message
        if state not in (State.RUNNING, State.CANCELLING) and entry.started is not None and entry.seconds is None:
            entry.seconds = time.monotonic() - entry.started
        self.entry_changed.emit(entry)

    def _on_event(self, event: object) -> None:
        if isinstance(event, ev.BackendChosen):
            self.engine_chosen.emit(event.description, event.note)
        elif isinstance(event, RowStarted):
            entry = self._batch[event.index]
            entry.in_size, entry.out_size, entry.icc, entry.exif = event.in_size, event.out_size, event.icc, event.exif
            entry.started, entry.progress = time.monotonic(), 0.0
            self._set(entry, State.RUNNING)
        elif isinstance(event, ev.TileProgress):
            entry = self._batch[event.index]
            entry.progress = event.done / max(1, event.total)
            self.entry_changed.emit(entry)
        elif isinstance(event, RowDone):
            entry = self._batch[event.index]
            entry.before, entry.result, entry.seconds = event.before, event.after, event.seconds
            entry.warnings = event.warnings
            entry.out_size = (event.after.width, event.after.height)
            entry.thumbnail = to_qimage(event.thumbnail)
            entry.progress = 1.0
            self._set(entry, State.DONE)
            self.entry_done.emit(entry)
        elif isinstance(event, ev.ItemFailed):
            self._set(self._batch[event.index], State.FAILED, event.message)
        elif isinstance(event, ev.BatchDone) and event.cancelled:
            self._end_batch(State.CANCELLED, "")

    def _end_batch(self, state: State, message: str) -> None:
        for entry in self._batch:
            if entry.state in (State.QUEUED, State.RUNNING, State.CANCELLING):
                self._set(entry, state, message)

    def _on_failed(self, message: str) -> None:
        """The whole batch could not run: say so, and on every image it held."""
        self.problem.emit(message)
        self._end_batch(State.FAILED, f"not upscaled: {message}")

    def _on_finished(self) -> None:
        self._end_batch(State.CANCELLED, "")  # stopped before reaching them
        self._worker = None
        self._batch = []
        self._cancelling = False
        self._tick.stop()
        self.busy_changed.emit(False)

    def _redraw_running(self) -> None:
        for entry in self._batch:
            if entry.state in (State.RUNNING, State.CANCELLING):
                self.entry_changed.emit(entry)
