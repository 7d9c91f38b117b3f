"""Torch work on threads of one intra-op thread each, made without changing any other thread's count.

Torch keeps an intra-op thread count per thread, and hands a new thread, at its first torch op, the count
last set anywhere in the process: `torch.set_num_threads` changes both. Saving and restoring it around
work, as training's degradations and the upscaler's tile threads did from two threads, handed the
temporary count to any thread that started meanwhile (an upscale started during training ran on one
thread) and could leave it set for good. So the count is only changed here: once, on threads made for the
purpose, while they start, under one lock; then the count torch hands down is put back as it was, by a
thread of its own, so the caller's count is never touched. Only a thread whose first torch op falls
within such a start (a few milliseconds, once per pool) can still get one thread.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import torch

Result = TypeVar("Result")
# torch's CPU threads for a run that shares the machine with a window, leaving the window a core: an op waits
# for its slowest thread, and with the window drawing beside them two threads on a 2-core CPU made a default
# training step 3-16x slower than one (0.04-0.20 vs 0.64-0.68 steps/s, interleaved on a shared CPU).
THREADS_BESIDE_A_WINDOW = max(1, (os.cpu_count() or 1) - 1)

_starting = threading.Lock()
_workers: dict[int, ThreadPoolExecutor] = {}  # by process id: a forked DataLoader worker makes its own
_workers_lock = threading.Lock()


def _on_new_thread(work: Callable[[], Result]) -> Result:
    """`work()` on a thread that starts for it: it sees the count torch hands down, and what it sets
    dies with it (apart from the hand-down count)."""
    result: list[Result] = []
    thread = threading.Thread(target=lambda: result.append(work()), name="torch-threads")
    thread.start()
    thread.join()
    return result[0]


def one_intra_op_thread() -> None:
    """A thread initializer: this thread's torch CPU ops on one intra-op thread."""
    torch.get_num_threads()  # torch sets a thread's count on its first use: let that happen now, not later
    torch.set_num_threads(1)


def set_own_threads(count: int) -> None:
    """The calling thread's torch CPU threads from now on; the count torch hands new threads stays as it was."""
    with handed_down_kept():
        torch.set_num_threads(count)


@contextlib.contextmanager
def handed_down_kept() -> Iterator[None]:
    """Threads started (all the way) inside may set their own count, in their initializer; the count torch
    hands to threads started later stays as it was."""
    with _starting:
        handed_down = _on_new_thread(torch.get_num_threads)
        try:
            yield
        finally:
            _on_new_thread(lambda: torch.set_num_threads(handed_down))


def single_threaded_pool(count: int, name: str) -> ThreadPoolExecutor:
    """`count` threads, already started, each running torch's CPU ops on one intra-op thread."""
    with handed_down_kept():
        pool = ThreadPoolExecutor(count, thread_name_prefix=name, initializer=one_intra_op_thread)
        started = threading.Barrier(count + 1)
        waits = [pool.submit(started.wait) for _ in range(count)]
        started.wait()
        for wait in waits:
            wait.result()
    return pool


def on_one_cpu_thread(work: Callable[[], Result]) -> Result:
    """`work()`, its torch CPU ops on one intra-op thread; the caller waits for it. Runs in place where the
    calling thread has one already (a DataLoader worker, a tile thread), else on a thread kept for it."""
    if torch.get_num_threads() == 1:
        return work()
    with _workers_lock:
        worker = _workers.get(os.getpid())
        if worker is None:
            worker = _workers[os.getpid()] = single_threaded_pool(1, "one-cpu-thread")
    return worker.submit(work).result()
