"""Paired training data: high-resolution images and their real low-resolution partners.

A model trained on pairs learns the degradation the pairs carry (a camera's, a codec's, a scanner's)
instead of one made up on the fly. Partners are found by name: the same path below each folder, any
image extension, and an LR name may end in the scale as DIV2K's do (`0001x4.png` for `0001.png`).
Every HR image must be exactly `scale` times its partner's size, so a crop at (y, x) of the LR image and
one at (scale*y, scale*x) of the HR image show the same place.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from engine.data.messages import counted, first_few
from engine.errors import DataError

LAYOUT = ("hr", "lr")  # a data folder holding these two subfolders is paired data
_SCALE_SUFFIX = re.compile(r"^(.+?)_?x\d+$", re.IGNORECASE)  # DIV2K's `0001x4` names 0001's partner
Size = tuple[int, int]  # width, height


@dataclass(frozen=True)
class Folders:
    """Where a run's HR images are, and their LR partners' folder (None: LR is made from HR)."""

    hr: Path
    lr: Path | None
    layout: bool = False  # found as DATA/hr + DATA/lr rather than named

    @property
    def paired(self) -> bool:
        return self.lr is not None


def resolve_folders(data_dir: str, lr_dir: str) -> Folders:
    """`lr_dir` when given; else DATA/hr + DATA/lr (either case) when DATA holds both; else HR only."""
    root = Path(data_dir).expanduser()
    if lr_dir:
        return Folders(root, Path(lr_dir).expanduser())
    found = {child.name.lower(): child for child in root.iterdir() if child.is_dir()} if root.is_dir() else {}
    if all(name in found for name in LAYOUT):
        return Folders(found["hr"], found["lr"], layout=True)
    return Folders(root, None)


def match_pairs(hr_root: Path, hr_paths: list[Path], lr_root: Path, lr_paths: list[Path]) -> list[tuple[Path, Path]]:
    """(HR, LR) in the HR images' order; DataError listing the first few images without a partner, or
    names that two files of one folder share."""
    hr_keys = _keyed(hr_root, hr_paths, "HR")
    lr_keys = _keyed(lr_root, lr_paths, "LR", known=set(hr_keys))
    lonely_hr = [path for key, path in hr_keys.items() if key not in lr_keys]
    lonely_lr = [path for key, path in lr_keys.items() if key not in hr_keys]
    problems = []
    if lonely_hr:
        problems.append(f"{counted(len(lonely_hr), 'HR image has', 'HR images have')} no LR partner in {lr_root}: "
                        f"{first_few(_names(hr_root, lonely_hr))}")
    if lonely_lr:
        problems.append(f"{counted(len(lonely_lr), 'LR image has', 'LR images have')} no HR partner in {hr_root}: "
                        f"{first_few(_names(lr_root, lonely_lr))}")
    if problems:
        raise DataError("; ".join(problems) + " (partners have the same name, any image extension)")
    return [(path, lr_keys[key]) for key, path in hr_keys.items()]


def _keyed(root: Path, paths: list[Path], kind: str, known: set[str] | None = None) -> dict[str, Path]:
    """Each file by its name without extension below `root`; an LR name ending in a scale (`x4`) is
    taken as its HR partner's when that partner exists and the full name has none."""
    keyed: dict[str, list[Path]] = defaultdict(list)
    for path in paths:
        key = path.relative_to(root).with_suffix("").as_posix()
        if known is not None and key not in known:
            stripped = _SCALE_SUFFIX.match(key)
            key = stripped.group(1) if stripped and stripped.group(1) in known else key
        keyed[key].append(path)
    shared = [name for group in keyed.values() if len(group) > 1 for name in _names(root, group)]
    if shared:
        raise DataError(f"{kind} images in {root} share a name, so their partners are ambiguous: {first_few(shared)}")
    return {key: group[0] for key, group in keyed.items()}


def _names(root: Path, paths: Iterable[Path]) -> list[str]:
    return [path.relative_to(root).as_posix() for path in paths]


def check_sizes(pairs: list[tuple[str, Size, Size]], scale: int) -> None:
    """DataError unless every (name, HR size, LR size) is exactly `scale` times: which pairs are off and
    by how much, or, when all pairs are another scale, which scale to choose."""
    wrong = [(name, hr, lr) for name, hr, lr in pairs if hr != (lr[0] * scale, lr[1] * scale)]
    if not wrong:
        return
    ratios = {_ratio(hr, lr) for _, hr, lr in pairs}
    if len(ratios) == 1 and None not in ratios:
        other = ratios.pop()
        name, hr, lr = wrong[0]
        raise DataError(f"the pairs are x{other} (e.g. {name}: HR {_wh(hr)}, LR {_wh(lr)}), not x{scale}: "
                        f"set the scale to {other}")
    listed = [f"{name} (HR {_wh(hr)}, LR {_wh(lr)}: HR should be {_wh((lr[0] * scale, lr[1] * scale))})"
              for name, hr, lr in wrong]
    raise DataError(f"{counted(len(wrong), 'pair is not', 'pairs are not')} exactly x{scale} (each HR side must "
                    f"be {scale} times its LR side): {first_few(listed)}")


def _ratio(hr: Size, lr: Size) -> int | None:
    """The integer scale from LR to HR, or None when the sizes have none."""
    if lr[0] == 0 or hr[0] % lr[0]:
        return None
    ratio = hr[0] // lr[0]
    return ratio if ratio > 1 and hr == (lr[0] * ratio, lr[1] * ratio) else None


def _wh(size: Size) -> str:
    return f"{size[0]}x{size[1]}"
