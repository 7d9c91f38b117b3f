"""Training data: a folder of images decoded once into memory, random HR crops, degraded LR; or pairs of
HR images and their real LR partners (engine/data/pairs.py), cropped at the same place.

Images stay uint8 numpy arrays (a 20 MP photo is 60 MB, not 240 MB as float), and crops are
cut from memory, so no epoch ever re-decodes a file. Everything is in [0, 1]; the trainer maps
to a generator's own value range at the model boundary.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, TypeVar

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, IterableDataset, get_worker_info

from engine.io.images import ImageReadError, has_image_extension, read_pixels
from engine.data.degradations import RealisticDegradation, degrade, downscale
from engine.errors import DataError
from engine.data.pairs import check_sizes, match_pairs, resolve_folders
from engine.data.sizes import min_hr_side

Item = TypeVar("Item")


class DataSettings(Protocol):
    """The training settings this module reads (engine.training.config.TrainConfig has them all): the data
    layer sits below training, so it names what it needs instead of importing the config."""

    data_dir: str
    lr_dir: str
    val_dir: str
    val_count: int
    scale: int
    channels: int
    hr_patch: int
    batch_size: int
    augment: bool
    antialias: bool
    degradation: str
    realistic: RealisticDegradation
    workers: int
# An HR image file and its LR partner's (None: the LR is made from the HR image as the run trains).
Source = tuple[Path, Path | None]


@dataclass
class ImageSet:
    """Decoded images plus the reasons files were skipped (shown to the person as warnings)."""

    images: list[np.ndarray]
    names: list[str]
    skipped: list[str] = field(default_factory=list)
    lr: list[np.ndarray] = field(default_factory=list)  # the images' LR partners, in order; empty: degrade


def list_images(folder: str | os.PathLike[str], role: str = "data folder") -> list[Path]:
    """Every image file below `folder`, sorted so that splits and seeds are reproducible."""
    root = Path(folder)
    if not root.is_dir():
        raise DataError(f"{role} {root} does not exist or is not a folder")
    return sorted(p for p in root.rglob("*") if p.is_file() and has_image_extension(p))


def split_paths(paths: Sequence[Item], val_count: int) -> tuple[list[Item], list[Item]]:
    """Hold out `val_count` evenly spaced files (or pairs) of the sorted list (at most half, so training
    keeps images). Deterministic: the same folder always gives the same split, so no image leaks into
    training."""
    count = min(val_count, len(paths) // 2)
    if count == 0:
        return list(paths), []
    held = {int(i * len(paths) / count) for i in range(count)}
    return ([p for i, p in enumerate(paths) if i not in held], [p for i, p in enumerate(paths) if i in held])


def find_sources(data_dir: str, lr_dir: str) -> list[Source]:
    """The HR images of `data_dir` (or of its hr/ subfolder) with their LR partners when there are any;
    DataError naming the first few images without a partner."""
    folders = resolve_folders(data_dir, lr_dir)
    hr_paths = list_images(folders.hr)
    if folders.lr is None:
        return [(path, None) for path in hr_paths]
    lr_paths = list_images(folders.lr, "LR folder")
    return list(match_pairs(folders.hr, hr_paths, folders.lr, lr_paths))


def data_split(config: DataSettings) -> tuple[list[Source], list[Source]]:
    """The run's (training, held-out) sources: val_dir's images, or val_count of data_dir's held out
    evenly. The trainer and the run list both ask this, so a run's samples are always its held-out
    images; with pairs, the held-out pairs."""
    sources = find_sources(config.data_dir, config.lr_dir)
    if not config.val_dir:
        return split_paths(sources, config.val_count)
    held_out = find_sources(config.val_dir, "")
    if sources and sources[0][1] is not None and held_out and held_out[0][1] is None:
        raise DataError(f"the training data are pairs, so the validation folder {config.val_dir} must hold "
                        f"pairs too: an hr/ and an lr/ subfolder")
    return sources, held_out


def load_sources(sources: list[Source], channels: int, min_size: int, scale: int) -> ImageSet:
    """Decode each file once; unreadable or too-small images are skipped with a reason, never fatal; a
    pair whose sizes are not exactly `scale` apart is (DataError naming the first few)."""
    result = ImageSet(images=[], names=[])
    sizes = []
    for path, lr_path in sources:
        image = _read(path, channels, result)
        partner = _read(lr_path, channels, result) if lr_path else None
        if image is None or (lr_path and partner is None):
            continue
        if min(image.shape[:2]) < min_size:
            result.skipped.append(f"skipped {path}: {image.shape[1]}x{image.shape[0]} is smaller than "
                                  f"the {min_size}-pixel crop")
            continue
        result.images.append(image)
        result.names.append(path.name)
        if partner is not None:
            result.lr.append(partner)
            sizes.append((path.name, image.shape[1::-1], partner.shape[1::-1]))
    check_sizes(sizes, scale)
    return result


def _read(path: Path, channels: int, into: ImageSet) -> np.ndarray | None:
    """The decoded image, or None with the reason added to `into`'s skipped files."""
    try:
        return read_pixels(path, channels)
    except ImageReadError as exc:
        into.skipped.append(f"skipped {path}: {exc}")
        return None


@dataclass
class TrainingData:
    """The training and validation images of one run."""

    train: ImageSet
    val: ImageSet
    val_is_training_image: bool = False  # every held-out file was unusable; numbers will be optimistic
    val_also_trained: int = 0  # validation files that are training files too (val_dir is, or is in, data_dir)

    @property
    def skipped(self) -> list[str]:
        return self.train.skipped + self.val.skipped

    @classmethod
    def load(cls, config: DataSettings) -> TrainingData:
        """Split, decode and check the data; DataError when fewer than 2 images are usable."""
        folder = Path(config.data_dir)
        train_sources, val_sources = data_split(config)
        if not train_sources:
            raise DataError(f"no readable images in {folder} (looked for image files: .png, .jpg, .webp, .tif, ...)")
        train = load_sources(train_sources, config.channels, config.hr_patch, config.scale)
        val = load_sources(val_sources, config.channels, min_hr_side(config.scale), config.scale)
        usable = len(train.images) + len(val.images)
        if usable < 2 or not train.images:
            reasons = "; ".join((train.skipped + val.skipped)[:3])
            raise DataError(f"no readable images in {folder} large enough to train on: need at least 2 images of "
                            f"{config.hr_patch}x{config.hr_patch} or more, found {usable}"
                            + (f" ({reasons})" if reasons else ""))
        if not val.images and config.val_dir:
            raise DataError(f"no readable images in {config.val_dir} (the validation folder)")
        if not val.images:  # validate on a training image rather than on nothing
            fallback = ImageSet(train.images[:1], train.names[:1], val.skipped, train.lr[:1])
            return cls(train=train, val=fallback, val_is_training_image=True)
        shared = {path.resolve() for path, _ in train_sources} & {path.resolve() for path, _ in val_sources}
        return cls(train=train, val=val, val_also_trained=len(shared))


# ----------------------------------------------------------------------------- tensors
def to_tensor(image: np.ndarray) -> torch.Tensor:
    """HxWxC uint8 -> 1xCxHxW float in [0, 1]. A copy: a read-only array (Pillow's) cannot back a tensor."""
    return as_batch(np.array(image, order="C")[None])


def to_uint8(batch: torch.Tensor) -> np.ndarray:
    """1xCxHxW float in [0, 1] -> HxWxC uint8 (rounded, clamped)."""
    return batch[0].detach().float().clamp(0, 1).mul(255).round().byte().permute(1, 2, 0).cpu().numpy()


def upscale_bicubic(lr: torch.Tensor, scale: int) -> torch.Tensor:
    """The baseline every result is compared against."""
    return F.interpolate(lr, scale_factor=scale, mode="bicubic", align_corners=False).clamp_(0, 1)


def center_crop(image: np.ndarray, max_side: int | None, multiple: int) -> np.ndarray:
    """The centred crop of at most `max_side` x `max_side` (None: the whole image), each side rounded
    down to a multiple of `multiple` so that it shrinks by that factor exactly."""
    h, w = image.shape[:2]
    limit = max(h, w) if max_side is None else max_side
    crop_h, crop_w = (min(side, limit) // multiple * multiple for side in (h, w))
    top, left = (h - crop_h) // 2, (w - crop_w) // 2
    return image[top:top + crop_h, left:left + crop_w]


def center_pair_crop(hr: np.ndarray, lr: np.ndarray, max_side: int, scale: int) -> tuple[np.ndarray, np.ndarray]:
    """center_crop of an LR image (at most max_side // scale) and of its HR partner at the same place."""
    small = center_crop(lr, max_side // scale, 1)
    top, left = ((full - part) // 2 for full, part in zip(lr.shape[:2], small.shape[:2]))
    return hr[top * scale:(top + small.shape[0]) * scale, left * scale:(left + small.shape[1]) * scale], small


@dataclass(frozen=True)
class Place:
    """Where one crop is cut and how it is turned: the same for an LR image and its HR partner."""

    index: int
    top: int
    left: int
    turns: int = 0  # quarter turns
    flip: bool = False


def crop_places(shapes: list[tuple[int, ...]], rng: np.random.Generator, count: int, size: int,
                augment: bool) -> list[Place]:
    """`count` random places of `size` x `size` in random images of these shapes, turned/flipped at random
    when `augment`."""
    places = []
    for index in rng.integers(len(shapes), size=count):
        height, width = shapes[index][:2]
        top, left = int(rng.integers(height - size + 1)), int(rng.integers(width - size + 1))
        turns, flip = (int(rng.integers(4)), bool(rng.integers(2))) if augment else (0, False)
        places.append(Place(int(index), top, left, turns, flip))
    return places


def cut(image: np.ndarray, place: Place, size: int, factor: int = 1) -> np.ndarray:
    """The crop at `place` of an image `factor` times the size the place was drawn for."""
    top, left, side = place.top * factor, place.left * factor, size * factor
    crop = np.rot90(image[top:top + side, left:left + side], k=place.turns)
    return np.ascontiguousarray(crop[:, ::-1] if place.flip else crop)


def random_crops(images: list[np.ndarray], rng: np.random.Generator, count: int, size: int,
                 augment: bool) -> np.ndarray:
    """NxHxWxC uint8 crops of random images at random places, flipped/rotated when `augment`."""
    places = crop_places([image.shape for image in images], rng, count, size, augment)
    return np.stack([cut(images[place.index], place, size) for place in places])


def random_pair_crops(images: list[np.ndarray], partners: list[np.ndarray], rng: np.random.Generator, count: int,
                      hr_size: int, scale: int, augment: bool) -> tuple[np.ndarray, np.ndarray]:
    """(HR, LR) crops showing the same places: drawn on the LR partners, cut `scale` times larger from the HR
    images, turned and flipped alike."""
    size = hr_size // scale
    places = crop_places([partner.shape for partner in partners], rng, count, size, augment)
    return (np.stack([cut(images[place.index], place, size, scale) for place in places]),
            np.stack([cut(partners[place.index], place, size) for place in places]))


def as_batch(crops: np.ndarray) -> torch.Tensor:
    """NxHxWxC uint8 -> NxCxHxW float in [0, 1]."""
    return torch.from_numpy(crops).permute(0, 3, 1, 2).float().div_(255)


def make_lr(hr: torch.Tensor, config: DataSettings, generator: torch.Generator) -> torch.Tensor:
    """The degraded low-resolution input a model learns to undo, for a [0, 1] HR batch on any device.
    `generator` (CPU) draws any random degradation, so a batch is a function of its seed."""
    if config.degradation == "realistic":
        return degrade(hr, config.realistic, config.scale, generator)
    return downscale(hr, config.scale, config.antialias)


def batch_seed(seed_key: tuple[int, ...], step: int) -> np.random.Generator:
    """The random source of the batch that trains `step`: a function of the run's seed key and the step
    only, so a resumed run draws exactly what an uninterrupted one would."""
    return np.random.default_rng([*seed_key, step])


def batch_at(images: list[np.ndarray], config: DataSettings, seed_key: tuple[int, ...], step: int,
             degrade: bool = True, partners: list[np.ndarray] | None = None
             ) -> tuple[torch.Tensor, torch.Tensor | None, int]:
    """(hr, lr, degradation seed) of the batch for `step`; lr is None when `degrade` is off (the caller
    degrades on its own device with that seed). With LR `partners`, lr is cut from them (seed 0)."""
    rng = batch_seed(seed_key, step)
    if partners:
        hr_crops, lr_crops = random_pair_crops(images, partners, rng, config.batch_size, config.hr_patch,
                                               config.scale, config.augment)
        return as_batch(hr_crops), as_batch(lr_crops), 0
    hr = as_batch(random_crops(images, rng, config.batch_size, config.hr_patch, config.augment))
    lr_seed = int(rng.integers(2**62))
    lr = make_lr(hr, config, torch.Generator().manual_seed(lr_seed)) if degrade else None
    return hr, lr, lr_seed


class CropStream(IterableDataset):
    """The batches for steps first_step, first_step + 1, ...; with n DataLoader workers, worker w makes
    those of first_step + w + k*n, and the loader's round-robin puts them back in step order."""

    def __init__(self, images: list[np.ndarray], config: DataSettings, seed_key: tuple[int, ...], first_step: int,
                 degrade: bool, partners: list[np.ndarray] | None = None) -> None:
        super().__init__()
        self.images, self.config, self.seed_key = images, config, seed_key
        self.first_step, self.degrade, self.partners = first_step, degrade, partners

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor | None, int]]:
        worker = get_worker_info()
        index, stride = (worker.id, worker.num_workers) if worker else (0, 1)
        while True:
            yield batch_at(self.images, self.config, self.seed_key, self.first_step + index, self.degrade,
                           self.partners)
            index += stride


def auto_workers(requested: int, device: torch.device) -> int:
    """Workers only pay off when the model runs elsewhere (a GPU); on a CPU they steal its cores. More
    workers than cores only cost memory (each is a process with its own copy of the images): capped."""
    if requested >= 0:
        return min(requested, os.cpu_count() or 1)
    if device.type == "cpu":
        return 0
    return max(0, min(4, (os.cpu_count() or 1) - 1))


def batch_stream(images: list[np.ndarray], config: DataSettings, seed_key: tuple[int, ...], first_step: int,
                 device: torch.device, partners: list[np.ndarray] | None = None
                 ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Endless (hr, lr) batches in [0, 1] for steps first_step, first_step + 1, ...; on a GPU the LR is
    made there, from the same seed, so the data workers only cut crops. With LR `partners` (paired data)
    the workers cut both."""
    on_device = device.type != "cpu"
    workers = auto_workers(config.workers, device)
    stream = CropStream(images, config, seed_key, first_step, degrade=not on_device, partners=partners)
    # Its own generator: a DataLoader draws a base seed when iterated, and drawing it from torch's global
    # generator would shift every later random number (a gradient penalty's) of a resumed run.
    loader = DataLoader(stream, batch_size=None, num_workers=workers, pin_memory=device.type == "cuda",
                        persistent_workers=workers > 0, generator=torch.Generator())
    for hr, lr, lr_seed in loader:
        if lr is None:
            hr = hr.to(device, non_blocking=True)
            lr = make_lr(hr, config, torch.Generator().manual_seed(lr_seed))
        yield hr, lr
