"""Silence what native libraries print straight to the process's file descriptors 1 and 2, which
Python's own redirections do not reach (ncnn prints a progress percentage per tile)."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator


@contextlib.contextmanager
def silenced_output() -> Iterator[None]:
    """Inside the block, stdout and stderr go to the null device, at the descriptor level."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(fd) for fd in (1, 2)]
    try:
        with open(os.devnull, "wb") as devnull:
            for fd in (1, 2):
                os.dup2(devnull.fileno(), fd)
        yield
    finally:
        for fd, copy in zip((1, 2), saved):
            os.dup2(copy, fd)
            os.close(copy)
