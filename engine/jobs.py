"""What a background job is, in plain Python: a generator of plain-data events and a thread-safe stop.

The Trainer and the BatchUpscaler are jobs; `engine.qt.job_worker` runs one on a QThread for the window,
the command line simply iterates `run()`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any, Protocol


class Job(Protocol):
    def run(self) -> Iterator[Any]: ...

    def request_stop(self) -> None: ...


class DeferredJob:
    """Builds the real job on the thread that runs it: a Trainer's constructor loads data and networks,
    which would freeze the window if done on the GUI thread. Its errors surface from `run()`."""

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
