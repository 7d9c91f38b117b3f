"""Runs an engine job (Trainer, BatchUpscaler) on a QThread and re-emits its events as Qt signals.

This is the only engine module that imports Qt; the rest of the engine stays usable headless.
A job is anything with `run()` (a generator of plain-data events) and a thread-safe `request_stop()`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any, Protocol

from PySide6.QtCore import QObject, QThread, Signal, Slot


class Job(Protocol):
    def run(self) -> Iterator[Any]: ...

    def request_stop(self) -> None: ...


class DeferredJob:
    """Builds the real job on the worker thread: a Trainer's constructor loads data and networks,
    which would freeze the window if done on the GUI thread. Its errors surface as `failed`."""

    def __init__(self, build: Callable[[], Job]) -> None:
        self._build = build
        self._job: Job | None = None
        self._stop = threading.Event()
        self._lock = threading.Lock()

    def run(self) -> Iterator[Any]:
        job = self._build()
        with self._lock:
            self._job = job
        if self._stop.is_set():
            job.request_stop()
        yield from job.run()

    def request_stop(self) -> None:
        with self._lock:
            self._stop.set()
            if self._job is not None:
                self._job.request_stop()


class _JobLoop(QObject):
    """Lives on the worker thread and drains the job's generator there."""

    event = Signal(object)
    failed = Signal(str)

    def __init__(self, job: Job) -> None:
        super().__init__()
        self._job = job

    @Slot()
    def run(self) -> None:
        try:
            for item in self._job.run():
                self.event.emit(item)
        except Exception as exc:  # noqa: BLE001 - any job failure must reach the window, not kill the thread
            self.failed.emit(str(exc) or type(exc).__name__)
        finally:
            self.thread().quit()


class JobWorker(QObject):
    """Lives on the GUI thread; owns the worker thread. Signals arrive on the GUI thread, in order,
    and `finished` always comes last, once the thread has really ended.

    A started worker keeps itself alive until its thread ends, so a window closed or deleted
    mid-run can never destroy a running QThread (which aborts the process).
    """

    _live: set[JobWorker] = set()

    event = Signal(object)
    failed = Signal(str)
    finished = Signal()

    def __init__(self, job: Job, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._job = job
        self._running = False
        self._thread = QThread(self)
        self._loop = _JobLoop(job)
        self._loop.moveToThread(self._thread)
        self._thread.started.connect(self._loop.run)
        self._loop.event.connect(self.event)
        self._loop.failed.connect(self.failed)
        self._thread.finished.connect(self._on_thread_finished)

    def start(self) -> None:
        self._running = True
        JobWorker._live.add(self)
        self._thread.start()

    def request_stop(self) -> None:
        """Set the job's own flag directly: a queued slot could not run while the loop is busy."""
        self._job.request_stop()

    def is_running(self) -> bool:
        return self._running

    def _on_thread_finished(self) -> None:
        self._thread.wait()
        self._running = False
        JobWorker._live.discard(self)
        self.finished.emit()
