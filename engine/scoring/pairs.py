"""Where the (original, low-resolution input) pairs that bench/quality.py and scripts/ship_model.py score
models on come from: photos shrunk cleanly, a
standard set's published inputs, photos degraded as real ones are, or a folder of LR files someone brings.

Degraded sets use the engine's own operations (engine/data/degradations.py) with fixed seeds, so a set is the
same on every machine and run; `write_pairs` saves one so that `--pairs` scores it again, or scores it
with other tools.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from engine.io.atomic import atomic_write
from engine.data.blur_kernels import filter2d, shaped_kernel
from engine.data.dataset import center_crop, downscale, to_tensor, to_uint8
from engine.data.degradations import STRENGTHS, add_gaussian_noise, degrade, jpeg
from engine.scoring.evaluation import make_pair
from engine.data.sizes import min_hr_side
from engine.io.images import has_image_extension, open_image


class BenchError(ValueError):
    """Bad input to a benchmark or a model check; the message says what to fix."""


@dataclass
class Pair:
    """An original and the low-resolution input made from it."""

    name: str
    hr: np.ndarray
    lr: np.ndarray


@dataclass(frozen=True)
class WebPhoto:
    """A fixed degradation: Gaussian blur, antialiased bicubic shrink, Gaussian noise, one JPEG save."""

    blur_sigma: float
    noise_sigma: float  # 0-255 scale
    jpeg_quality: int

    def describe(self, scale: int) -> str:
        return (f"Gaussian blur sigma {self.blur_sigma:g}, antialiased bicubic x1/{scale}, Gaussian noise sigma "
                f"{self.noise_sigma:g}/255, JPEG quality {self.jpeg_quality}")


# --degrade choices besides "realistic" (the training pipeline): the typical web photo the issue measured
# and a harsher one (re-compressed, dim light), both inside the medium strength's ranges.
FIXED = {"photo": WebPhoto(1.2, 5.0, 60), "heavy": WebPhoto(1.6, 10.0, 40)}
DEGRADE_CHOICES = ("realistic", *FIXED)


def load_rgb(path: Path) -> np.ndarray:
    try:
        with open_image(path) as image:
            return np.asarray(image.convert("RGB"))
    except (OSError, ValueError) as exc:
        raise BenchError(f"cannot read {path}: {exc}") from None


def image_paths(folder: Path, option: str, limit: int | None = None) -> list[Path]:
    if not folder.is_dir():
        raise BenchError(f"{option} {folder} is not a folder")
    paths = sorted(p for p in folder.iterdir() if p.is_file() and has_image_extension(p))[:limit]
    if not paths:
        raise BenchError(f"no images in {folder}")
    return paths


def folder_pairs(folder: Path, scale: int, max_side: int, limit: int | None) -> list[Pair]:
    """Centred crops of the photos, shrunk as published benchmarks are (engine.scoring.evaluation.make_pair)."""
    pairs = []
    for path in image_paths(folder, "--data", limit):
        hr, lr = make_pair(load_rgb(path), scale, max_side)
        pairs.append(Pair(path.stem, _large_enough(hr, scale, path), lr))
    return pairs


def _large_enough(hr: np.ndarray, scale: int, path: Path) -> np.ndarray:
    if min(hr.shape[:2]) < min_hr_side(scale):
        raise BenchError(f"{path.name} is too small to evaluate at x{scale}")
    return hr


def benchmark_pairs(root: Path, set_name: str, scale: int, limit: int | None) -> list[Pair]:
    """A standard set's HR images with its published LR_bicubic inputs; HR cropped to scale x LR."""
    hr_dir, lr_dir = root / set_name / "HR", root / set_name / "LR_bicubic" / f"X{scale}"
    if not hr_dir.is_dir() or not lr_dir.is_dir():
        raise BenchError(f"{root} has no {set_name}/HR and {set_name}/LR_bicubic/X{scale} folders")
    pairs = []
    for hr_path in sorted(hr_dir.glob("*.png"))[:limit]:
        lr = load_rgb(lr_dir / f"{hr_path.stem}x{scale}.png")
        hr = load_rgb(hr_path)[: lr.shape[0] * scale, : lr.shape[1] * scale]
        pairs.append(Pair(hr_path.stem, hr, lr))
    return pairs


def by_stem(paths: list[Path], folder: Path) -> dict[str, Path]:
    found: dict[str, Path] = {}
    for path in paths:
        if path.stem in found:
            raise BenchError(f"{folder} holds both {found[path.stem].name} and {path.name}: names must be unique "
                             f"apart from the extension")
        found[path.stem] = path
    return found


def given_pairs(hr_dir: Path, lr_dir: Path, scale: int, limit: int | None) -> list[Pair]:
    """LR files matched to their originals by name (extension aside); each original must be `scale` times
    its LR, up to scale - 1 extra pixels, which are cropped off the bottom and right as Set5's are."""
    originals = by_stem(image_paths(hr_dir, "--pairs"), hr_dir)
    inputs = by_stem(image_paths(lr_dir, "--pairs"), lr_dir)
    for missing, where, other in ((sorted(set(originals) - set(inputs)), lr_dir, "HR"),
                                  (sorted(set(inputs) - set(originals)), hr_dir, "LR")):
        if missing:
            shown = ", ".join(missing[:3]) + (f" and {len(missing) - 3} more" if len(missing) > 3 else "")
            raise BenchError(f"{where} has no file named like the {other} image(s) {shown} (names must match, "
                             f"extension aside)")
    pairs = []
    for stem in sorted(originals)[:limit]:
        hr, lr = load_rgb(originals[stem]), load_rgb(inputs[stem])
        if (hr.shape[0] // scale, hr.shape[1] // scale) != lr.shape[:2] or min(lr.shape[:2]) < 8:
            raise BenchError(f"{stem}: the LR image is {lr.shape[1]}x{lr.shape[0]}, but the original "
                             f"{hr.shape[1]}x{hr.shape[0]} is not x{scale} of it (or it is under 8 px)")
        pairs.append(Pair(stem, hr[: lr.shape[0] * scale, : lr.shape[1] * scale], lr))
    return pairs


def image_seed(seed: int, name: str) -> int:
    """Each image's own seed, from the set's and its name: adding a photo changes no other's input."""
    return int(np.random.SeedSequence([seed, zlib.crc32(name.encode())]).generate_state(1, np.uint64)[0] >> 1)


def degrade_photo(hr: np.ndarray, scale: int, how: str, strength: str, seed: int) -> np.ndarray:
    """The LR (uint8) of an HR crop under `how` (a DEGRADE_CHOICES entry), deterministic given `seed`."""
    image, generator = to_tensor(hr), torch.Generator().manual_seed(seed)
    if how == "realistic":
        return to_uint8(degrade(image, STRENGTHS[strength], scale, generator))
    setting = FIXED[how]
    radius = max(1, int(3 * setting.blur_sigma + 0.5))
    blurred = filter2d(image, shaped_kernel(2 * radius + 1, setting.blur_sigma, setting.blur_sigma, 0.0))
    noisy = add_gaussian_noise(downscale(blurred, scale, antialias=True), setting.noise_sigma / 255, False, generator)
    return to_uint8(jpeg(noisy, setting.jpeg_quality))


def degraded_pairs(folder: Path, scale: int, max_side: int | None, limit: int | None, how: str, strength: str,
                   seed: int) -> list[Pair]:
    """Centred crops of the photos (None: whole photos; sides a multiple of the scale) and their degraded LR."""
    pairs = []
    for path in image_paths(folder, "--data", limit):
        hr = _large_enough(center_crop(load_rgb(path), max_side, scale), scale, path)
        pairs.append(Pair(path.stem, hr, degrade_photo(hr, scale, how, strength, image_seed(seed, path.stem))))
    return pairs


def describe_degradation(how: str, strength: str, seed: int, scale: int) -> str:
    if how == "realistic":
        return f"LR: the training pipeline's realistic degradation, strength {strength}, seed {seed}"
    return f"LR: {FIXED[how].describe(scale)} (noise seed {seed})"


def write_pairs(pairs: list[Pair], folder: Path) -> tuple[Path, Path]:
    """Each pair as folder/HR/NAME.png and folder/LR/NAME.png (lossless), for `--pairs HR LR`; never over
    an existing file."""
    targets = [(folder / kind / f"{pair.name}.png", pixels) for pair in pairs
               for kind, pixels in (("HR", pair.hr), ("LR", pair.lr))]
    existing = [str(path) for path, _ in targets if path.exists()]
    if existing:
        raise BenchError(f"{existing[0]} already exists; --write-lr needs a folder without these files")
    for path, pixels in targets:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(path, lambda tmp, pixels=pixels: Image.fromarray(pixels).save(tmp, format="PNG"), overwrite=False)
    return folder / "HR", folder / "LR"
