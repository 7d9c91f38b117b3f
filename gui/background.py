"""Short jobs off the GUI thread (reading checkpoints, measuring steps, making previews).

The answer comes back as a signal on the GUI thread, tagged with the key it was asked under, so the
caller can drop answers to questions it no longer asks (another run selected, the settings changed).
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from PySide6.QtCore import QObject, Signal


class Background(QObject):
    done = Signal(object, object)  # key, result
    failed = Signal(object, str)  # key, one-line reason

    def __init__(self, name: str, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix=name)

    def submit(self, key: Any, work: Callable[[], Any]) -> Future:
        """Run `work()` after the jobs already asked for; its result or error arrives as a signal."""
        return self._pool.submit(self._call, key, work)

    def _call(self, key: Any, work: Callable[[], Any]) -> None:
        try:
            result = work()
        except Exception as exc:  # noqa: BLE001 - every failure becomes a message, never a dead thread
            self._emit(self.failed, key, str(exc) or type(exc).__name__)
        else:
            self._emit(self.done, key, result)

    @staticmethod
    def _emit(signal: Signal, key: Any, value: Any) -> None:
        try:
            signal.emit(key, value)
        except RuntimeError:  # the window was closed meanwhile: nobody is left to tell
            pass

    def shutdown(self) -> None:
        """Drop the jobs not started yet; one in progress finishes on its own."""
        self._pool.shutdown(wait=False, cancel_futures=True)
