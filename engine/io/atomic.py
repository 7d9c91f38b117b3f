"""Atomic file writes: a crash or a full disk never leaves a half-written output or checkpoint.

Temporary files are named `.srgan-HASH-RANDOM.tmp` (HASH: the target's name, CRC-32): short, whatever the
target's length, and marked as ours, so clean-up removes only files this app made, never a user's `.x.tmp`.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import stat
import tempfile
import time
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path


# Less free space than this after a failed write means the write failed for want of space: torch.save, for
# one, reports a full disk as "RuntimeError: [enforce fail at inline_container.cc] unexpected pos".
FULL_DISK_BYTES = 1 << 20
TEMP_PREFIX = ".srgan-"
TEMP_SUFFIX = ".tmp"


class DiskFullError(OSError):
    """A write failed because its disk is full; the message says so and names the file."""

    def __init__(self, target: Path) -> None:
        super().__init__(errno.ENOSPC, "No space left on device", str(target))

    def __str__(self) -> str:
        return f"No space left on device: could not write {self.filename}"


class TargetExistsError(FileExistsError):
    """The refusal to replace `target`: the message names it, `.filename` holds it for a window to ask."""

    def __init__(self, target: Path) -> None:
        super().__init__(errno.EEXIST, "already exists", str(target))

    def __str__(self) -> str:
        return f"{self.filename} already exists"


def _disk_full(exc: BaseException, folder: Path) -> bool:
    if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
        return True
    try:
        return isinstance(exc, (OSError, RuntimeError)) and shutil.disk_usage(folder).free < FULL_DISK_BYTES
    except OSError:
        return False


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike[str], overwrite: bool = True) -> Iterator[Path]:
    """Yield a temporary path beside `target`; on success it is renamed onto `target`.

    The temporary file lives in the same folder so the final rename is atomic on one filesystem.
    With `overwrite=False` an existing target is never replaced (FileExistsError instead). Once the target is
    written, the temporary files an earlier, killed write of the same target left behind are removed.
    """
    target = Path(target)
    started = time.time()
    if not overwrite and target.exists():
        raise TargetExistsError(target)
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=_temp_prefix(target), suffix=TEMP_SUFFIX, dir=target.parent)
    except OSError as exc:
        if exc.errno == errno.ENOSPC:
            raise DiskFullError(target) from exc
        raise
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        # mkstemp makes 0600, and some writers (safetensors' save_file) replace the file with their own
        # 0600 one: the finished file gets the usual permissions here, after the writer is done.
        tmp.chmod(0o666 & ~_umask())
        if overwrite:
            os.replace(tmp, target)
        else:
            # link() fails if the target appeared meanwhile, so nothing is ever clobbered.
            os.link(tmp, target)
            tmp.unlink()
    except BaseException as exc:
        full = _disk_full(exc, target.parent)  # before the temporary file gives its space back
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        if full:
            raise DiskFullError(target) from exc
        raise
    _remove_leftovers(target, started)


def _temp_prefix(target: Path) -> str:
    return f"{TEMP_PREFIX}{zlib.crc32(target.name.encode('utf-8', 'surrogateescape')):08x}-"


def _remove_leftovers(target: Path, started: float) -> None:
    """Temporary files of `target` untouched since before this write began: a killed writer's (a live writer
    of the same file keeps touching its own; two live writers of one file race whatever we do)."""
    remove_temps(target.parent, _temp_prefix(target), started)


def remove_temps(folder: Path, prefix: str = TEMP_PREFIX, older_than: float | None = None) -> list[Path]:
    """Delete this app's temporary files directly in `folder` (not below it): regular files named
    PREFIX...TEMP_SUFFIX, optionally only those last modified before `older_than`. A symlink is never
    followed: a link named like our files is kept, and nothing outside `folder` is touched."""
    removed: list[Path] = []
    if not folder.is_dir():
        return removed
    for path in folder.iterdir():
        if not (path.name.startswith(prefix) and path.name.endswith(TEMP_SUFFIX)):
            continue
        with contextlib.suppress(OSError):
            info = path.lstat()
            if stat.S_ISREG(info.st_mode) and (older_than is None or info.st_mtime < older_than):
                path.unlink()
                removed.append(path)
    return removed


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write(target: str | os.PathLike[str], write: Callable[[Path], None], overwrite: bool = True) -> Path:
    """Call `write(tmp_path)` and move the result onto `target` atomically."""
    with atomic_path(target, overwrite=overwrite) as tmp:
        write(tmp)
    return Path(target)
