"""Run whole tiles side by side on a CPU: one thread per core, each running its tile on one core.

Why not an engine's own intra-op threads: they meet at a barrier after every layer, so while another
process holds one core every layer of every tile waits for it. Measured here (PyTorch, default-x4, 16
tiles of 256 px, 2 cores, with other jobs running): two intra-op threads 6.4 s best / 11.8 s median; two
tile threads 2.2 s best / 4.3 s median; one thread 3.1 s / 4.4 s. ncnn the same way (Real-ESRGAN x4plus,
two 64-px tiles): two tile threads 1.34 s, ncnn's two OpenMP threads 1.47 s. Tiles are independent, so
giving each core its own tile keeps both busy without any barrier. Both engines let go of Python's lock
while a tile runs.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import TypeVar

from engine.upscaling.tiling import UpscaleCancelled

T = TypeVar("T")
R = TypeVar("R")
CANCEL_POLL_S = 0.05  # how often a wait for a tile looks at the cancel event


def _result(future: Future[R], cancel: threading.Event | None) -> R:
    """The tile's result; UpscaleCancelled as soon as `cancel` is set while it runs."""
    while cancel is not None:
        try:
            return future.result(timeout=CANCEL_POLL_S)
        except FutureTimeout:
            if cancel.is_set():
                raise UpscaleCancelled() from None
    return future.result()


class TileThreads:
    """`count` threads that each run one tile at a time; `map` keeps at most `count` + 1 tiles in flight.
    `initializer` runs once in each thread before its first tile (an engine's per-thread settings)."""

    def __init__(self, count: int, initializer: Callable[[], None] | None = None) -> None:
        self.count = count
        self._idents: set[int] = set()

        def start() -> None:
            self._idents.add(threading.get_ident())
            if initializer is not None:
                initializer()

        self._pool = ThreadPoolExecutor(count, thread_name_prefix="tile", initializer=start)
        # Start every thread now, so that what `initializer` changes is settled before the caller goes on.
        started = threading.Barrier(count + 1)
        waits = [self._pool.submit(started.wait) for _ in range(count)]
        started.wait()
        for wait in waits:
            wait.result()

    def runs_here(self) -> bool:
        """Is the calling thread one of these?"""
        return threading.get_ident() in self._idents

    def map(self, fn: Callable[[T], R], items: Iterable[T], cancel: threading.Event | None = None) -> Iterator[R]:
        """fn over items, results in order. Closing the iterator early cancels what has not started and
        waits for what has (so a restart after running out of memory does not overlap with it), unless
        `cancel` is set: then a running tile is abandoned (it finishes on its thread, unread) and a wait
        for one ends in UpscaleCancelled, so that a cancel takes effect at once whatever a tile costs."""
        pending: deque[Future[R]] = deque()
        try:
            for item in items:
                pending.append(self._pool.submit(fn, item))
                if len(pending) > self.count:
                    yield _result(pending.popleft(), cancel)
            while pending:
                yield _result(pending.popleft(), cancel)
        finally:
            for future in pending:
                future.cancel()
            if cancel is None or not cancel.is_set():
                for future in pending:
                    if not future.cancelled():
                        future.exception()  # waits; its error, if any, is already being reported

    def close(self) -> None:
        """Stop the threads once their current tile (if any) is done, without waiting for it."""
        self._pool.shutdown(wait=False, cancel_futures=True)
