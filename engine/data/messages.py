"""How the data's errors (engine.errors.DataError) name what a person must fix in their folders: in one
line the window and the command line show as is, never a wall of file names."""

from __future__ import annotations

from collections.abc import Sequence

SHOWN = 3  # how many of the files a problem concerns a message names


def first_few(names: Sequence[str], shown: int = SHOWN) -> str:
    """"a.png, b.png, c.png" or "a.png, b.png, c.png and 5 more": enough to find the problem, never a wall."""
    listed = ", ".join(names[:shown])
    return listed if len(names) <= shown else f"{listed} and {len(names) - shown} more"


def counted(count: int, singular: str, plural: str) -> str:
    """"1 HR image has" / "3 HR images have": the subject of a problem's message."""
    return f"{count} {singular if count == 1 else plural}"
