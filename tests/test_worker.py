"""JobWorker: events cross to the GUI thread in order, stop reaches the job at once, failures become
a signal and the thread still ends."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from engine.jobs import DeferredJob
from engine.qt.job_worker import JobWorker


class CountingJob:
    """Yields 0, 1, 2, ... until `limit` or until stopped; records the thread it ran on."""

    def __init__(self, limit: int, block_after: int | None = None) -> None:
        self.limit = limit
        self.block_after = block_after
        self.stop = threading.Event()
        self.thread_name: str | None = None

    def run(self) -> Iterator[int]:
        self.thread_name = threading.current_thread().name
        for i in range(self.limit):
            if self.stop.is_set():
                return
            yield i
            if self.block_after is not None and i >= self.block_after:
                # Only request_stop() can end this wait; a queued slot could never run meanwhile.
                assert self.stop.wait(timeout=10), "stop request never arrived"

    def request_stop(self) -> None:
        self.stop.set()


class FailingJob:
    def run(self) -> Iterator[int]:
        yield 1
        raise RuntimeError("disk full")

    def request_stop(self) -> None:
        pass


def collect(worker: JobWorker) -> tuple[list[object], list[str]]:
    events: list[object] = []
    errors: list[str] = []
    worker.event.connect(events.append)
    worker.failed.connect(errors.append)
    return events, errors


def test_events_arrive_in_order_on_gui_thread_then_finished(qtbot) -> None:
    job = CountingJob(limit=50)
    worker = JobWorker(job)
    events, errors = collect(worker)
    with qtbot.waitSignal(worker.finished, timeout=5000):
        worker.start()
    assert events == list(range(50))
    assert errors == []
    assert job.thread_name != threading.current_thread().name
    assert not worker.is_running()


def test_stop_sets_flag_directly_while_job_is_busy(qtbot) -> None:
    job = CountingJob(limit=1000, block_after=3)
    worker = JobWorker(job)
    events, _ = collect(worker)
    worker.start()
    qtbot.waitUntil(lambda: len(events) >= 4, timeout=5000)
    assert worker.is_running()
    with qtbot.waitSignal(worker.finished, timeout=5000):
        worker.request_stop()
    assert events == [0, 1, 2, 3]


def test_exception_becomes_failed_signal_and_thread_ends(qtbot) -> None:
    worker = JobWorker(FailingJob())
    events, errors = collect(worker)
    with qtbot.waitSignal(worker.finished, timeout=5000):
        worker.start()
    assert events == [1]
    assert errors == ["disk full"]
    assert not worker.is_running()


@pytest.mark.parametrize("exc", [ValueError(""), KeyError("k")])
def test_failed_message_is_never_empty(qtbot, exc: Exception) -> None:
    class Raising:
        def run(self) -> Iterator[int]:
            raise exc
            yield 0

        def request_stop(self) -> None:
            pass

    worker = JobWorker(Raising())
    _, errors = collect(worker)
    with qtbot.waitSignal(worker.finished, timeout=5000):
        worker.start()
    assert len(errors) == 1 and errors[0].strip()


def test_deferred_job_builds_on_worker_thread_and_forwards_stop(qtbot) -> None:
    built_on: list[str] = []
    job = CountingJob(limit=1000, block_after=0)

    def build() -> CountingJob:
        built_on.append(threading.current_thread().name)
        return job

    worker = JobWorker(DeferredJob(build))
    events, _ = collect(worker)
    worker.start()
    qtbot.waitUntil(lambda: events == [0], timeout=5000)
    with qtbot.waitSignal(worker.finished, timeout=5000):
        worker.request_stop()
    assert built_on and built_on[0] != threading.current_thread().name
    assert job.stop.is_set()


def test_deferred_job_build_error_becomes_failed(qtbot) -> None:
    def build() -> CountingJob:
        raise ValueError("runs/x already holds a run")

    worker = JobWorker(DeferredJob(build))
    _, errors = collect(worker)
    with qtbot.waitSignal(worker.finished, timeout=5000):
        worker.start()
    assert errors == ["runs/x already holds a run"]
