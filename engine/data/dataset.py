"""Training data: a folder of images decoded once into memory, random HR crops, degraded LR.

Images stay uint8 numpy arrays (a 20 MP photo is 60 MB, not 240 MB as float), and crops are
cut from memory, so no epoch ever re-decodes a file. Everything is in [0, 1]; the trainer maps
to a generator's own value range at the model boundary.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, UnidentifiedImageError
from torch.utils.data import DataLoader, IterableDataset, get_worker_info

from engine.training.config import TrainConfig
from engine.io.images import has_image_extension
from engine.data.degradations import degrade



class DataError(ValueError):
    """The data cannot train anything; the message names the folder or file."""


@dataclass
class ImageSet:
    """Decoded images plus the reasons files were skipped (shown to the person as warnings)."""

    images: list[np.ndarray]
    names: list[str]
    skipped: list[str] = field(default_factory=list)


def list_images(folder: str | os.PathLike[str]) -> list[Path]:
    """Every image file below `folder`, sorted so that splits and seeds are reproducible."""
    root = Path(folder)
    if not root.is_dir():
        raise DataError(f"data folder {root} does not exist or is not a folder")
    return sorted(p for p in root.rglob("*") if p.is_file() and has_image_extension(p))


def load_image(path: str | os.PathLike[str], channels: int) -> np.ndarray:
    """HxWxC uint8; grayscale is the luma (Y) of the picture. Raises OSError/ValueError if unreadable."""
    with Image.open(path) as img:
        img.load()
        return np.array(img.convert("L" if channels == 1 else "RGB")).reshape(img.height, img.width, channels)


def split_paths(paths: list[Path], val_count: int) -> tuple[list[Path], list[Path]]:
    """Hold out `val_count` evenly spaced files of the sorted list (at most half, so training keeps
    images). Deterministic: the same folder always gives the same split, so no image leaks into training."""
    count = min(val_count, len(paths) // 2)
    if count == 0:
        return list(paths), []
    held = {int(i * len(paths) / count) for i in range(count)}
    return ([p for i, p in enumerate(paths) if i not in held], [p for i, p in enumerate(paths) if i in held])


def load_images(paths: list[Path], channels: int, min_size: int) -> ImageSet:
    """Decode each file once; unreadable or too-small files are skipped with a reason, never fatal."""
    result = ImageSet(images=[], names=[])
    for path in paths:
        try:
            image = load_image(path, channels)
        except (OSError, ValueError, UnidentifiedImageError, Image.DecompressionBombError) as exc:
            result.skipped.append(f"skipped {path}: not a readable image ({exc.__class__.__name__})")
            continue
        if min(image.shape[:2]) < min_size:
            result.skipped.append(f"skipped {path}: {image.shape[1]}x{image.shape[0]} is smaller than "
                                  f"the {min_size}-pixel crop")
            continue
        result.images.append(image)
        result.names.append(path.name)
    return result


@dataclass
class TrainingData:
    """The training and validation images of one run."""

    train: ImageSet
    val: ImageSet
    val_is_training_image: bool = False  # every held-out file was unusable; numbers will be optimistic

    @property
    def skipped(self) -> list[str]:
        return self.train.skipped + self.val.skipped

    @classmethod
    def load(cls, config: TrainConfig) -> TrainingData:
        """Split, decode and check the data; DataError when fewer than 2 images are usable."""
        folder = Path(config.data_dir)
        paths = list_images(folder)
        if not paths:
            raise DataError(f"no readable images in {folder} (looked for image files: .png, .jpg, .webp, .tif, ...)")
        if config.val_dir:
            train_paths, val_paths = paths, list_images(config.val_dir)
        else:
            train_paths, val_paths = split_paths(paths, config.val_count)
        train = load_images(train_paths, config.channels, config.hr_patch)
        val = load_images(val_paths, config.channels, 8 * config.scale)
        usable = len(train.images) + len(val.images)
        if usable < 2 or not train.images:
            reasons = "; ".join((train.skipped + val.skipped)[:3])
            raise DataError(f"no readable images in {folder} large enough to train on: need at least 2 images of "
                            f"{config.hr_patch}x{config.hr_patch} or more, found {usable}"
                            + (f" ({reasons})" if reasons else ""))
        if not val.images and config.val_dir:
            raise DataError(f"no readable images in {config.val_dir} (the validation folder)")
        if not val.images:  # validate on a training image rather than on nothing
            fallback = ImageSet(train.images[:1], train.names[:1], val.skipped)
            return cls(train=train, val=fallback, val_is_training_image=True)
        return cls(train=train, val=val)


# ----------------------------------------------------------------------------- tensors
def to_tensor(image: np.ndarray) -> torch.Tensor:
    """HxWxC uint8 -> 1xCxHxW float in [0, 1]. A copy: a read-only array (Pillow's) cannot back a tensor."""
    return torch.from_numpy(np.array(image, order="C")).permute(2, 0, 1).unsqueeze(0).float().div_(255)


def to_uint8(batch: torch.Tensor) -> np.ndarray:
    """1xCxHxW float in [0, 1] -> HxWxC uint8 (rounded, clamped)."""
    return batch[0].detach().float().clamp(0, 1).mul(255).round().byte().permute(1, 2, 0).cpu().numpy()


def downscale(hr: torch.Tensor, scale: int, antialias: bool) -> torch.Tensor:
    """The degradation the network learns to undo: bicubic down by `scale`, quantised to 8 bits as a
    saved LR image would be."""
    h, w = hr.shape[-2:]
    lr = F.interpolate(hr, size=(h // scale, w // scale), mode="bicubic", antialias=antialias, align_corners=False)
    return lr.clamp_(0, 1).mul_(255).round_().div_(255)


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


def random_crops(images: list[np.ndarray], rng: np.random.Generator, count: int, size: int,
                 augment: bool) -> np.ndarray:
    """NxHxWxC uint8 crops of random images at random places, flipped/rotated when `augment`."""
    crops = []
    for index in rng.integers(len(images), size=count):
        image = images[index]
        top = int(rng.integers(image.shape[0] - size + 1))
        left = int(rng.integers(image.shape[1] - size + 1))
        crop = image[top:top + size, left:left + size]
        if augment:
            crop = np.rot90(crop, k=int(rng.integers(4)))
            if rng.integers(2):
                crop = crop[:, ::-1]
        crops.append(np.ascontiguousarray(crop))
    return np.stack(crops)


def make_lr(hr: torch.Tensor, config: TrainConfig, generator: torch.Generator) -> torch.Tensor:
    """The degraded low-resolution input a model learns to undo, for a [0, 1] HR batch on any device.
    `generator` (CPU) draws any random degradation, so a batch is a function of its seed."""
    if config.degradation == "realistic":
        return degrade(hr, config.realistic, config.scale, generator)
    return downscale(hr, config.scale, config.antialias)


def batch_seed(seed_key: tuple[int, ...], step: int) -> np.random.Generator:
    """The random source of the batch that trains `step`: a function of the run's seed key and the step
    only, so a resumed run draws exactly what an uninterrupted one would."""
    return np.random.default_rng([*seed_key, step])


def batch_at(images: list[np.ndarray], config: TrainConfig, seed_key: tuple[int, ...], step: int,
             degrade: bool = True) -> tuple[torch.Tensor, torch.Tensor | None, int]:
    """(hr, lr, degradation seed) of the batch for `step`; lr is None when `degrade` is off (the caller
    degrades on its own device with that seed)."""
    rng = batch_seed(seed_key, step)
    crops = random_crops(images, rng, config.batch_size, config.hr_patch, config.augment)
    hr = torch.from_numpy(crops).permute(0, 3, 1, 2).float().div_(255)
    lr_seed = int(rng.integers(2**62))
    lr = make_lr(hr, config, torch.Generator().manual_seed(lr_seed)) if degrade else None
    return hr, lr, lr_seed


class CropStream(IterableDataset):
    """The batches for steps first_step, first_step + 1, ...; with n DataLoader workers, worker w makes
    those of first_step + w + k*n, and the loader's round-robin puts them back in step order."""

    def __init__(self, images: list[np.ndarray], config: TrainConfig, seed_key: tuple[int, ...], first_step: int,
                 degrade: bool) -> None:
        super().__init__()
        self.images, self.config, self.seed_key = images, config, seed_key
        self.first_step, self.degrade = first_step, degrade

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor | None, int]]:
        worker = get_worker_info()
        index, stride = (worker.id, worker.num_workers) if worker else (0, 1)
        while True:
            yield batch_at(self.images, self.config, self.seed_key, self.first_step + index, self.degrade)
            index += stride


def auto_workers(requested: int, device: torch.device) -> int:
    """Workers only pay off when the model runs elsewhere (a GPU); on a CPU they steal its cores."""
    if requested >= 0:
        return requested
    if device.type == "cpu":
        return 0
    return max(0, min(4, (os.cpu_count() or 1) - 1))


def batch_stream(images: list[np.ndarray], config: TrainConfig, seed_key: tuple[int, ...], first_step: int,
                 device: torch.device) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Endless (hr, lr) batches in [0, 1] for steps first_step, first_step + 1, ...; on a GPU the LR is
    made there, from the same seed, so the data workers only cut crops."""
    on_device = device.type != "cpu"
    workers = auto_workers(config.workers, device)
    stream = CropStream(images, config, seed_key, first_step, degrade=not on_device)
    # Its own generator: a DataLoader draws a base seed when iterated, and drawing it from torch's global
    # generator would shift every later random number (a gradient penalty's) of a resumed run.
    loader = DataLoader(stream, batch_size=None, num_workers=workers, pin_memory=device.type == "cuda",
                        persistent_workers=workers > 0, generator=torch.Generator())
    for hr, lr, lr_seed in loader:
        if lr is None:
            hr = hr.to(device, non_blocking=True)
            lr = make_lr(hr, config, torch.Generator().manual_seed(lr_seed))
        yield hr, lr
