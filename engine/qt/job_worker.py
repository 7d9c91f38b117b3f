"""Runs an engine job (Trainer, BatchUpscaler) on a QThread and re-emits its events as Qt signals.

This is the only engine module that imports Qt; the rest of the engine stays usable headless.
A job (`engine.jobs.Job`) is anything with `run()` (a generator of plain-data events) and a thread-safe
`request_stop()`.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, QThread, Signal, Slot

from engine.jobs import Job


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
