"""Results live on disk, not in memory: each image is kept as a raw .npy file in a temporary folder
(read only when the view shows it at full size) with a downscaled preview beside it, so a batch of any
length keeps the window's memory flat. The folder is removed when the store is closed or the program exits;
folders left by a crashed session are swept when the next one starts."""

from __future__ import annotations

import contextlib
import itertools
import os
import shutil
import tempfile
import weakref
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from engine.io.images import to_pil
from gui.common.images import pack_argb32

PREVIEW_SIDE = 1600  # longest side of the copy drawn while the view shows the image at this size or smaller
THUMB_SIDE = 96  # queue-row thumbnails (drawn at 48 px; twice that for high-DPI screens)
FOLDER_PREFIX = "srgan-studio-results-"


def displayable(pixels: np.ndarray, alpha: np.ndarray | None = None) -> np.ndarray:
    """Any pixels (uint8, uint16 or float in [0, 1]; 1 to 4 channels) plus an optional alpha plane as one
    HxWxC uint8 array with C = 1, 3 or 4, the layouts a QImage can show."""
    if alpha is not None:
        pixels = np.concatenate([pixels, alpha[..., None].astype(pixels.dtype)], axis=2)
    if pixels.dtype == np.uint16:
        pixels = (pixels >> 8).astype(np.uint8)
    elif pixels.dtype != np.uint8:
        pixels = (np.clip(pixels, 0, 1) * 255 + 0.5).astype(np.uint8)
    if pixels.ndim == 2:
        pixels = pixels[..., None]
    if pixels.shape[2] == 2:  # grey + alpha
        pixels = np.concatenate([np.repeat(pixels[..., :1], 3, axis=2), pixels[..., 1:]], axis=2)
    return pixels


def shrink(pixels: np.ndarray, side: int) -> np.ndarray:
    """`pixels` (uint8, C = 1, 3 or 4) downscaled so its longest side is at most `side`."""
    height, width = pixels.shape[:2]
    factor = side / max(height, width)
    if factor >= 1:
        return pixels
    size = (max(1, round(width * factor)), max(1, round(height * factor)))
    small = np.asarray(to_pil(pixels).resize(size, Image.Resampling.BILINEAR, reducing_gap=2.0))
    return small[..., None] if small.ndim == 2 else small


@dataclass(frozen=True)
class StoredImage:
    """One image in the store: its full-size file (displayable uint8), its preview file (packed for drawing,
    see gui.common.images.pack_argb32), its full size, and, when saving needs more than the displayable pixels
    (16 bits, grey + alpha), the result as the engine made it."""

    full: Path
    preview: Path
    width: int
    height: int
    alpha: bool
    saved: Path | None = None

    def load_saved(self) -> np.ndarray:
        """The pixels a save writes: the engine's result at its own depth and channels."""
        return np.load(self.saved if self.saved is not None else self.full, mmap_mode="r")

    def load_full(self) -> np.ndarray:
        """Memory-mapped; the caller copies what it keeps."""
        return np.load(self.full, mmap_mode="r")

    def load_preview(self) -> np.ndarray:
        """HxW uint32, packed (gui.common.images.packed_qimage shows it); memory-mapped."""
        return np.load(self.preview, mmap_mode="r")

    def preview_is_full_size(self) -> bool:
        """Is the preview the whole image (so drawing never needs the full file)?"""
        return max(self.width, self.height) <= PREVIEW_SIDE


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # exists, owned by someone else
        return True
    return True


def sweep_stale_folders(parent: Path) -> None:
    """Remove the result folders of sessions that ended without cleaning up (a crash, a kill)."""
    for folder in parent.glob(f"{FOLDER_PREFIX}*"):
        pid = folder.name[len(FOLDER_PREFIX):].split("-")[0]
        if pid.isdigit() and not _pid_alive(int(pid)):
            shutil.rmtree(folder, ignore_errors=True)


class ResultStore:
    """A private temporary folder of stored images. `put` is called on worker threads."""

    def __init__(self, parent: Path | None = None) -> None:
        if parent is not None:
            parent.mkdir(parents=True, exist_ok=True)
            sweep_stale_folders(parent)
        self.folder = Path(tempfile.mkdtemp(prefix=f"{FOLDER_PREFIX}{os.getpid()}-", dir=parent))
        self._numbers = itertools.count()
        self._finalizer = weakref.finalize(self, shutil.rmtree, str(self.folder), ignore_errors=True)

    def put(self, original: np.ndarray, kind: str) -> StoredImage:
        """Write `original` (any depth, 1 to 4 channels) as displayable pixels with their preview, and as it
        is too when that differs (16 bits, grey + alpha); `kind` only names the files."""
        stem = self.folder / f"{next(self._numbers)}-{kind}"
        full, preview = stem.with_suffix(".npy"), stem.with_name(f"{stem.name}-preview.npy")
        pixels = displayable(original)
        np.save(full, np.ascontiguousarray(pixels))
        np.save(preview, pack_argb32(shrink(pixels, PREVIEW_SIDE)))
        saved = None
        if pixels.shape != original.shape or pixels.dtype != original.dtype:
            saved = stem.with_name(f"{stem.name}-saved.npy")
            np.save(saved, np.ascontiguousarray(original))
        return StoredImage(full, preview, pixels.shape[1], pixels.shape[0], pixels.shape[2] in (2, 4), saved)

    def discard(self, image: StoredImage) -> None:
        """Delete one image's files (its row was cleared). Where a mapped file cannot be deleted (Windows)
        it goes with the folder."""
        for path in {image.full, image.preview, image.saved} - {None}:
            with contextlib.suppress(OSError):
                path.unlink(missing_ok=True)

    def close(self) -> None:
        """Delete the folder now (it is also deleted at exit)."""
        self._finalizer()
