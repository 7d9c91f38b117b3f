"""Training data: discovery, a leak-free validation split, crops, degradation, and bad files."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch

from engine.training.config import TrainConfig
from engine.errors import DataError
from engine.data.dataset import (TrainingData, batch_at, batch_stream, center_crop, list_images, random_crops,
                         split_paths)
from engine.data.degradations import STRONG, degrade, downscale


def config_for(folder: Path, **changes: object) -> TrainConfig:
    return TrainConfig(**{"data_dir": str(folder), "hr_patch": 32, "batch_size": 3, "val_count": 2, **changes})


def test_images_are_found_recursively_and_sorted(image_folder: Path, make_images: Callable[..., list[Path]]) -> None:
    nested = make_images(image_folder / "more", count=2)
    (image_folder / "notes.txt").write_text("not an image")
    found = list_images(image_folder)
    assert len(found) == 7 and set(nested) <= set(found)
    assert found == sorted(found)


def test_split_is_deterministic_disjoint_and_leaves_training_images() -> None:
    paths = [Path(f"{i:02d}.png") for i in range(20)]
    train, val = split_paths(paths, 4)
    assert (train, val) == split_paths(list(paths), 4)
    assert len(val) == 4 and not set(train) & set(val) and len(train) + len(val) == 20
    assert len(split_paths(paths[:3], 8)[1]) == 1  # never more than half held out


def test_validation_images_are_never_trained_on(image_folder: Path) -> None:
    data = TrainingData.load(config_for(image_folder))
    train = {image.tobytes() for image in data.train.images}
    assert len(data.val.images) == 2 and len(data.train.images) == 3
    assert not any(image.tobytes() in train for image in data.val.images)


def test_val_dir_replaces_the_held_out_split(image_folder: Path, tmp_path: Path,
                                             make_images: Callable[..., list[Path]]) -> None:
    make_images(tmp_path / "val", count=2, size=(64, 64))
    data = TrainingData.load(config_for(image_folder, val_dir=str(tmp_path / "val")))
    assert len(data.train.images) == 5 and [image.shape[:2] for image in data.val.images] == [(64, 64), (72, 64)]


def test_unusable_validation_images(image_folder: Path, tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="validation folder"):
        TrainingData.load(config_for(image_folder, val_dir=str(tmp_path / "empty")))
    for held_out in split_paths(list_images(image_folder), 2)[1]:
        held_out.write_bytes(b"corrupt")
    data = TrainingData.load(config_for(image_folder))
    assert len(data.val.images) == 1 and data.val_is_training_image and len(data.skipped) == 2


def test_grayscale_loads_one_channel(image_folder: Path) -> None:
    data = TrainingData.load(config_for(image_folder, channels=1))
    assert all(image.ndim == 3 and image.shape[2] == 1 for image in data.train.images)


def test_empty_folder_names_the_folder(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=f"no readable images in {tmp_path}"):
        TrainingData.load(config_for(tmp_path))


def test_corrupt_file_is_skipped_by_name(image_folder: Path) -> None:
    (image_folder / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    data = TrainingData.load(config_for(image_folder))
    assert len(data.train.images) + len(data.val.images) == 5
    assert any("broken.png" in message for message in data.skipped)


def test_images_smaller_than_the_crop(image_folder: Path, tmp_path: Path,
                                      make_images: Callable[..., list[Path]]) -> None:
    make_images(image_folder / "small", count=1, size=(20, 20))
    data = TrainingData.load(config_for(image_folder))
    small = str(image_folder / "small" / "image_00.png")
    assert any(small in message and "smaller than the 32-pixel crop" in message for message in data.skipped)
    make_images(tmp_path / "tiny", count=3, size=(20, 20))
    with pytest.raises(DataError, match="need at least 2 images"):
        TrainingData.load(config_for(tmp_path / "tiny"))


def test_random_crops_come_from_the_images() -> None:
    images = [np.full((40, 50, 3), value, np.uint8) for value in (10, 200)]
    crops = random_crops(images, np.random.default_rng(0), 16, 32, augment=True)
    assert crops.shape == (16, 32, 32, 3)
    assert set(np.unique(crops)) == {10, 200}  # both images drawn, nothing invented


def test_augmentation_flips_and_rotates() -> None:
    image = np.arange(32 * 32 * 3, dtype=np.uint8).reshape(32, 32, 3)
    crops = random_crops([image], np.random.default_rng(0), 24, 32, augment=True)
    assert len({crop.tobytes() for crop in crops}) > 2
    plain = random_crops([image], np.random.default_rng(0), 4, 32, augment=False)
    assert all(np.array_equal(crop, image) for crop in plain)


@pytest.mark.parametrize("antialias", [True, False])
def test_downscale_is_bicubic_quantised_and_in_range(antialias: bool) -> None:
    hr = torch.rand(2, 3, 32, 32)
    lr = downscale(hr, 4, antialias)
    assert lr.shape == (2, 3, 8, 8) and lr.min() >= 0 and lr.max() <= 1
    assert torch.allclose(lr * 255, (lr * 255).round(), atol=1e-4)
    flat = downscale(torch.full((1, 1, 16, 16), 0.5), 2, antialias)
    assert torch.allclose(flat, torch.full_like(flat, round(0.5 * 255) / 255))


def test_center_crop_is_centred_capped_and_a_multiple_of_scale() -> None:
    image = np.arange(301 * 410).reshape(301, 410, 1)
    assert center_crop(image, 256, 4).shape == (256, 256, 1)
    assert center_crop(image[:70], 256, 4).shape == (68, 256, 1)
    whole = center_crop(image, None, 4)
    assert whole.shape == (300, 408, 1) and whole[0, 0, 0] == image[0, 1, 0]


def test_batch_stream_yields_matching_pairs(image_folder: Path) -> None:
    config = config_for(image_folder, scale=2)
    data = TrainingData.load(config)
    hr, lr = next(batch_stream(data.train.images, config, (0,), 1, device=torch.device("cpu")))
    assert hr.shape == (3, 3, 32, 32) and lr.shape == (3, 3, 16, 16)
    torch.testing.assert_close(lr, downscale(hr, 2, config.antialias))


def test_a_batch_is_a_function_of_seed_and_step_whatever_the_workers(image_folder: Path) -> None:
    """Resuming at step k must draw exactly the batch an uninterrupted run draws at step k, and data
    workers (used on GPUs) must not change which batch trains which step."""
    config = config_for(image_folder, scale=2)
    images = TrainingData.load(config).train.images
    cpu = torch.device("cpu")
    straight = [hr for hr, _, _ in (batch_at(images, config, (7, 0), step) for step in range(1, 7))]
    resumed = batch_stream(images, config, (7, 0), 4, cpu)
    for step in (4, 5, 6):
        torch.testing.assert_close(next(resumed)[0], straight[step - 1], rtol=0, atol=0)
    with_workers = batch_stream(images, config.replace(workers=2), (7, 0), 1, cpu)
    for step in range(1, 7):
        torch.testing.assert_close(next(with_workers)[0], straight[step - 1], rtol=0, atol=0)
    other_seed = batch_at(images, config, (8, 0), 1)[0]
    assert not torch.equal(other_seed, straight[0])


def test_realistic_lr_is_made_from_the_batch_seed(image_folder: Path) -> None:
    """The realistic pipeline, like bicubic, makes each step's LR from the batch's own seed, so resuming
    and data workers draw the same degradations."""
    config = config_for(image_folder, degradation="realistic", realistic="strong")
    images = TrainingData.load(config).train.images
    hr, lr, lr_seed = batch_at(images, config, (3, 0), 5)
    assert lr is not None and lr.shape == (3, 3, 8, 8)
    torch.testing.assert_close(lr, degrade(hr, STRONG, 4, torch.Generator().manual_seed(lr_seed)), rtol=0, atol=0)
    torch.testing.assert_close(lr, batch_at(images, config, (3, 0), 5)[1], rtol=0, atol=0)
    streamed_hr, streamed_lr = next(batch_stream(images, config, (3, 0), 5, device=torch.device("cpu")))
    torch.testing.assert_close((streamed_hr, streamed_lr), (hr, lr), rtol=0, atol=0)
    assert not torch.allclose(lr, downscale(hr, 4, config.antialias))
