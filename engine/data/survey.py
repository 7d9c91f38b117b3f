"""What a data folder holds, told before training: the window's line under its data fields.

It reads file headers only (sizes, not pixels), so a large folder is surveyed in a moment: files that cannot
be read are not counted but named, and it checks what training would refuse (no readable image, partners
missing, sizes off the scale) with the same messages.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from engine.data.dataset import find_sources
from engine.errors import DataError
from engine.data.pairs import check_sizes, resolve_folders
from engine.io.images import ImageReadError, upright_size


NAMES_SHOWN = 3  # unreadable files named in the line; the rest are counted


@dataclass(frozen=True)
class Survey:
    count: int  # the readable images (or pairs)
    paired: bool
    layout: bool  # the pairs were found as DATA/hr + DATA/lr
    scale: int
    unreadable: tuple[str, ...] = ()  # files whose header cannot be read: training skips them

    def describe(self) -> str:
        if not self.paired:
            line = f"{self.count} image{'s' if self.count != 1 else ''} (HR only, LR made by the degradation below)"
        else:
            where = " in hr/ + lr/" if self.layout else ""
            line = (f"{self.count} pair{'s' if self.count != 1 else ''} HR+LR{where}, x{self.scale} (the degradation "
                    f"setting is not used)")
        if not self.unreadable:
            return line
        return f"{line}; {unreadable_files(self.unreadable)} skipped"


def unreadable_files(names: tuple[str, ...]) -> str:
    """'2 unreadable files (a.png, b.png)', naming the first few."""
    more = f" and {len(names) - NAMES_SHOWN} more" if len(names) > NAMES_SHOWN else ""
    return (f"{len(names)} unreadable file{'s' if len(names) != 1 else ''} "
            f"({', '.join(names[:NAMES_SHOWN])}{more})")


def survey(data_dir: str, lr_dir: str, scale: int) -> Survey:
    """The images (or pairs) training on these folders would use, read from their headers; DataError saying
    what it would refuse."""
    sources = find_sources(data_dir, lr_dir)
    folders = resolve_folders(data_dir, lr_dir)
    if not sources:
        raise DataError(f"no images in {folders.hr}")
    sizes = [(hr, _sizes(hr, lr)) for hr, lr in sources]
    unreadable = tuple(hr.name for hr, found in sizes if found is None)
    if len(unreadable) == len(sources):
        raise DataError(f"no readable images in {folders.hr}: {unreadable_files(unreadable)}")
    if folders.paired:
        check_sizes([(hr.name, *found) for hr, found in sizes if found is not None], scale)
    return Survey(len(sources) - len(unreadable), folders.paired, folders.layout, scale, unreadable)


def _sizes(hr: Path, lr: Path | None) -> tuple[tuple[int, int], tuple[int, int]] | None:
    """The (width, height) of the image and of its partner (the image's again without one), or None when
    either is unreadable (training skips it, saying so)."""
    try:
        high = upright_size(hr)
        return high, (high if lr is None else upright_size(lr))
    except ImageReadError:
        return None
