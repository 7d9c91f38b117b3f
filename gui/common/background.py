"""Short jobs off the GUI thread (reading checkpoints, measuring steps, making previews).

The worker thread never touches a Qt object: it leaves its answer in a queue that a timer on the GUI
thread empties into signals, tagged with the key the job was asked under, so the caller can drop answers
to questions it no longer asks (another run selected, the settings changed). A window closed while a job
runs therefore cannot be reached from that job's thread, which would crash the process.
"""

from __future__ import annotations

import queue
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal

POLL_MS = 30


class Background(QObject):
    done = Signal(object, object)  # key, result
    failed = Signal(object, str)  # key, one-line reason

    def __init__(self, name: str, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix=name)
        self._answers: queue.SimpleQueue[tuple[Any, Any, str | None]] = queue.SimpleQueue()
        self._waiting = 0
        self._timer = QTimer(self, interval=POLL_MS)
        self._timer.timeout.connect(self._deliver)

    def submit(self, key: Any, work: Callable[[], Any]) -> Future:
        """Run `work()` after the jobs already asked for; its result or error arrives as a signal."""
        self._waiting += 1
        self._timer.start()
        return self._pool.submit(_answer, self._answers, key, work)

    def is_busy(self) -> bool:
        """Is a job asked for whose answer has not been delivered yet?"""
        return self._waiting > 0

    def _deliver(self) -> None:
        while not self._answers.empty():
            key, result, error = self._answers.get()
            self._waiting -= 1
            if error is None:
                self.done.emit(key, result)
            else:
                self.failed.emit(key, error)
        if self._waiting <= 0:
            self._timer.stop()

    def shutdown(self) -> None:
        """Drop the jobs not started yet; one in progress finishes on its own, unheard."""
        self._timer.stop()
        self._pool.shutdown(wait=False, cancel_futures=True)


def _answer(answers: queue.SimpleQueue, key: Any, work: Callable[[], Any]) -> None:
    """On the worker thread: run the job and queue its result or its one-line failure."""
    try:
        answers.put((key, work(), None))
    except Exception as exc:  # noqa: BLE001 - every failure becomes a message, never a dead thread
        answers.put((key, None, str(exc) or type(exc).__name__))
