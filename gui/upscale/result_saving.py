"""Saving upscaled results from the result store, on a worker thread, never replacing a file unless the
person said so: what to do with a name that is taken is decided before the job starts."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from enum import Enum
from pathlib import Path

from engine import events as ev
from engine.io.images import ImageWriteError, save_image
from engine.upscaling.batch import free_path
from gui.upscale.result_store import StoredImage


class Conflict(Enum):
    """What to do when a result's name is taken."""

    REPLACE = "Replace"
    KEEP_BOTH = "Keep both"
    SKIP = "Skip"


@dataclass(frozen=True)
class SaveRequest:
    """One result to write. `fmt` None = from the target's suffix."""

    key: int  # the queue row it belongs to
    result: StoredImage
    target: Path
    fmt: str | None
    quality: int
    icc: bytes | None = None
    exif: bytes | None = None
    overwrite: bool = False


def conflicting(requests: Sequence[SaveRequest], claimed: set[Path]) -> list[Path]:
    """The targets that exist, that an earlier request `claimed` (queued, not written yet), or that two
    of `requests` share."""
    seen = set(claimed)
    clashes = []
    for request in requests:
        if request.target.exists() or request.target in seen:
            clashes.append(request.target)
        seen.add(request.target)
    return clashes


def resolve(requests: Sequence[SaveRequest], policy: Conflict | None, claimed: set[Path]) -> list[SaveRequest]:
    """The requests to run: a taken name (see `conflicting`) is replaced, numbered as the engine numbers
    (engine.upscaling.batch.free_path) or skipped as `policy` says; with None, a taken name fails in the job rather than being touched. Adds their targets to
    `claimed`."""
    planned: list[SaveRequest] = []
    for request in requests:
        taken = request.target.exists() or request.target in claimed
        if taken and policy is Conflict.SKIP:
            continue
        if taken and policy is Conflict.KEEP_BOTH:
            request = replace(request, target=free_path(request.target, claimed))
        elif taken and policy is Conflict.REPLACE:
            request = replace(request, overwrite=True)
        claimed.add(request.target)
        planned.append(request)
    return planned


class SaveJob:
    """Writes each request atomically; yields ItemStarted, then ItemDone or ItemFailed (a one-line reason)
    per request, then BatchDone. Cancelling stops before the next file, never in the middle of one."""

    def __init__(self, requests: Sequence[SaveRequest]) -> None:
        self.requests = list(requests)
        self._stop = threading.Event()

    def request_stop(self) -> None:
        self._stop.set()

    def run(self) -> Iterator[ev.ItemStarted | ev.ItemDone | ev.ItemFailed | ev.BatchDone]:
        saved: list[str] = []
        failed: list[tuple[str, str]] = []
        for index, request in enumerate(self.requests):
            if self._stop.is_set():
                break
            target = str(request.target)
            yield ev.ItemStarted(index, target, len(self.requests))
            started = time.perf_counter()
            try:
                save_image(request.result.load_saved(), request.target, request.fmt, request.quality, icc=request.icc,
                           exif=request.exif, overwrite=request.overwrite)
            except (ImageWriteError, OSError, ValueError) as exc:
                failed.append((target, str(exc) or type(exc).__name__))
                yield ev.ItemFailed(index, target, failed[-1][1])
                continue
            saved.append(target)
            yield ev.ItemDone(index, target, target, None, time.perf_counter() - started)
        yield ev.BatchDone(saved, failed, cancelled=self._stop.is_set())
