"""What a data folder holds, told before training: the window's line under its data fields.

It reads file headers only (sizes, not pixels), so a large folder is surveyed in a moment, and it checks
what training would refuse (partners missing, sizes off the scale) with the same messages.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from engine.data.dataset import find_sources
from engine.errors import DataError
from engine.data.pairs import check_sizes, resolve_folders
from engine.io.images import open_image


@dataclass(frozen=True)
class Survey:
    count: int
    paired: bool
    layout: bool  # the pairs were found as DATA/hr + DATA/lr
    scale: int

    def describe(self) -> str:
        if not self.paired:
            return f"{self.count} image{'s' if self.count != 1 else ''} (HR only, LR made by the degradation below)"
        where = " in hr/ + lr/" if self.layout else ""
        return (f"{self.count} pair{'s' if self.count != 1 else ''} HR+LR{where}, x{self.scale} (the degradation "
                f"setting is not used)")


def survey(data_dir: str, lr_dir: str, scale: int) -> Survey:
    """The images (or pairs) training on these folders would use; DataError saying what it would refuse."""
    sources = find_sources(data_dir, lr_dir)
    folders = resolve_folders(data_dir, lr_dir)
    if not sources:
        raise DataError(f"no images in {folders.hr}")
    if folders.paired:
        check_sizes([(hr.name, *sizes) for hr, lr in sources if (sizes := _sizes(hr, lr)) is not None], scale)
    return Survey(len(sources), folders.paired, folders.layout, scale)


def _sizes(hr: Path, lr: Path) -> tuple[tuple[int, int], tuple[int, int]] | None:
    """The two images' (width, height), or None when either is unreadable (training skips it, saying so)."""
    try:
        with open_image(hr) as high, open_image(lr) as low:
            return high.size, low.size
    except (OSError, ValueError, UnidentifiedImageError, Image.DecompressionBombError):
        return None
