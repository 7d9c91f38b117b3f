"""Paired training data: partners found by name or by an hr/ + lr/ layout, crops cut at the same place,
held-out pairs validated on their real LR, and clear errors for pairs that do not fit."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from engine.cli.main import main
from engine.errors import DataError
from engine.data.dataset import (TrainingData, batch_at, batch_stream, data_split, find_sources,
                                 random_pair_crops)
from engine.data.survey import survey
from engine.training.checkpoint import load_checkpoint
from engine.training.config import ConfigError, TrainConfig
from engine.training.run_summary import validation_images
from engine.training.validation import ValidationSet

SCALE = 4


def write_pair(hr_dir: Path, lr_dir: Path, name: str, lr_size: tuple[int, int] = (16, 12), scale: int = SCALE,
               seed: int = 0, lr_name: str | None = None) -> None:
    """A random LR image and its HR partner made of `scale` x `scale` blocks of its pixels, so any HR crop
    at a multiple of the scale, taken every `scale` pixels, is exactly the LR crop of the same place."""
    width, height = lr_size
    lr = np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)
    hr = lr.repeat(scale, axis=0).repeat(scale, axis=1)
    for folder, pixels, file in ((hr_dir, hr, name), (lr_dir, lr, lr_name or name)):
        (folder / file).parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(pixels).save(folder / file)


def write_pairs(root: Path, count: int, **kwargs: object) -> tuple[Path, Path]:
    hr_dir, lr_dir = root / "hr", root / "lr"
    for i in range(count):
        write_pair(hr_dir, lr_dir, f"p{i:02d}.png", seed=i, **kwargs)  # type: ignore[arg-type]
    return hr_dir, lr_dir


def paired_config(hr_dir: Path, lr_dir: Path | str = "", **changes: object) -> TrainConfig:
    return TrainConfig(**{"data_dir": str(hr_dir), "lr_dir": str(lr_dir), "hr_patch": 32, "batch_size": 6,
                          "val_count": 2, **changes})


def test_partners_are_found_by_name_in_any_format_and_subfolder(tmp_path: Path) -> None:
    hr_dir, lr_dir = tmp_path / "HR", tmp_path / "LR"
    write_pair(hr_dir, lr_dir, "a.png")
    write_pair(hr_dir, lr_dir, "b.png", lr_name="b.bmp")
    write_pair(hr_dir, lr_dir, "sub/0001.png", lr_name="sub/0001x4.png")  # DIV2K's names
    pairs = find_sources(str(hr_dir), str(lr_dir))
    assert [(hr.relative_to(hr_dir).as_posix(), lr.relative_to(lr_dir).as_posix()) for hr, lr in pairs] == [
        ("a.png", "a.png"), ("b.png", "b.bmp"), ("sub/0001.png", "sub/0001x4.png")]
    assert all(lr is None for _, lr in find_sources(str(hr_dir), ""))  # no LR folder: HR only


def test_a_folder_holding_hr_and_lr_is_paired_data(tmp_path: Path) -> None:
    write_pairs(tmp_path / "set", 5)
    data = TrainingData.load(paired_config(tmp_path / "set"))
    assert len(data.train.images) == len(data.train.lr) == 3 and len(data.val.lr) == 2
    assert data.train.images[0].shape == (48, 64, 3) and data.train.lr[0].shape == (12, 16, 3)
    assert survey(str(tmp_path / "set"), "", SCALE).describe() == (
        "5 pairs HR+LR in hr/ + lr/, x4 (the degradation setting is not used)")
    write_pairs(tmp_path / "plain", 3)
    assert survey(str(tmp_path / "plain" / "hr"), "", SCALE).describe() == (
        "3 images (HR only, LR made by the degradation below)")


def test_crops_of_a_pair_show_the_same_place_turned_alike(tmp_path: Path) -> None:
    hr_dir, lr_dir = write_pairs(tmp_path, 4, lr_size=(20, 14))
    config = paired_config(hr_dir, lr_dir, batch_size=16, degradation="realistic")  # ignored with pairs
    data = TrainingData.load(config)
    hr, lr, _ = batch_at(data.train.images, config, (0, 0), 3, partners=data.train.lr)
    assert hr.shape == (16, 3, 32, 32) and lr is not None and lr.shape == (16, 3, 8, 8)
    torch.testing.assert_close(hr[:, :, ::SCALE, ::SCALE], lr, rtol=0, atol=0)
    streamed = next(batch_stream(data.train.images, config, (0, 0), 3, torch.device("cpu"), data.train.lr))
    torch.testing.assert_close(streamed, (hr, lr), rtol=0, atol=0)  # a batch is a function of seed and step
    # the places differ and augmentation turns them: an unturned crop would keep the image's own layout
    image = np.arange(24 * 24, dtype=np.uint8).reshape(24, 24, 1)
    big = image.repeat(2, axis=0).repeat(2, axis=1)
    hr_crops, lr_crops = random_pair_crops([big], [image], np.random.default_rng(1), 12, 16, 2, augment=True)
    assert np.array_equal(hr_crops[:, ::2, ::2], lr_crops) and len({c.tobytes() for c in lr_crops}) > 6


def test_held_out_pairs_validate_on_their_real_lr(tmp_path: Path) -> None:
    hr_dir, lr_dir = write_pairs(tmp_path, 5)
    config = paired_config(hr_dir, lr_dir)
    data = TrainingData.load(config)
    validation = ValidationSet(data.val.images, config, data.val.lr)
    for crop, partner in zip(validation.crops, data.val.lr):
        lr = (crop.lr[0].permute(1, 2, 0) * 255).round().byte().numpy()
        assert np.array_equal(lr, partner) and np.array_equal(crop.hr[::SCALE, ::SCALE], partner)


def test_the_run_list_holds_out_the_pairs_training_held_out(tmp_path: Path) -> None:
    hr_dir, lr_dir = write_pairs(tmp_path, 7)
    config = paired_config(hr_dir, lr_dir, val_count=3)
    data = TrainingData.load(config)
    shown = validation_images(config)
    assert shown.names == data.val.names and len(shown.names) == 3
    assert all(np.array_equal(a, b) for a, b in zip(shown.lr, data.val.lr))
    held_out = data_split(config)[1]
    assert not {hr.name for hr, _ in held_out} & set(data.train.names)


def test_missing_partners_are_listed(tmp_path: Path) -> None:
    hr_dir, lr_dir = write_pairs(tmp_path, 6)
    for name in ("p01.png", "p02.png", "p03.png", "p05.png"):
        (lr_dir / name).unlink()
    write_pair(tmp_path / "elsewhere", lr_dir, "stray.png")
    with pytest.raises(DataError) as raised:
        TrainingData.load(paired_config(hr_dir, lr_dir))
    message = str(raised.value)
    assert f"4 HR images have no LR partner in {lr_dir}: p01.png, p02.png, p03.png and 1 more" in message
    assert f"1 LR image has no HR partner in {hr_dir}: stray.png" in message
    Image.new("RGB", (16, 12)).save(lr_dir / "p00.jpg")
    with pytest.raises(DataError, match=r"LR images in .* share a name, so their partners are ambiguous: p00.jpg, "
                                        r"p00.png"):
        TrainingData.load(paired_config(hr_dir, lr_dir))
    with pytest.raises(DataError, match="LR folder .*nowhere does not exist"):
        TrainingData.load(paired_config(hr_dir, tmp_path / "nowhere"))


def test_sizes_off_the_scale_are_named(tmp_path: Path) -> None:
    hr_dir, lr_dir = write_pairs(tmp_path, 4)
    Image.new("RGB", (66, 48)).save(hr_dir / "p02.png")
    with pytest.raises(DataError, match=r"1 pair is not exactly x4 .*: p02.png \(HR 66x48, LR 16x12: HR should "
                                        r"be 64x48\)"):
        TrainingData.load(paired_config(hr_dir, lr_dir))
    Image.new("RGB", (63, 47)).save(hr_dir / "p03.png")
    with pytest.raises(DataError, match=r"2 pairs are not exactly x4 .*p03.png \(HR 63x47"):
        survey(str(tmp_path), "", SCALE)  # the window's line says the same, from the files' headers


def test_a_consistent_other_scale_names_the_scale_to_choose(tmp_path: Path) -> None:
    write_pairs(tmp_path / "x2", 3, scale=2)
    with pytest.raises(DataError, match=r"the pairs are x2 \(e.g. p00.png: HR 32x24, LR 16x12\), not x4: set the "
                                        r"scale to 2"):
        survey(str(tmp_path / "x2"), "", SCALE)
    assert survey(str(tmp_path / "x2"), "", 2).describe().startswith("3 pairs HR+LR in hr/ + lr/, x2")


def test_grayscale_pairs_and_paired_validation_folders(tmp_path: Path) -> None:
    hr_dir, lr_dir = write_pairs(tmp_path / "train", 3)
    write_pairs(tmp_path / "val", 2)
    data = TrainingData.load(paired_config(hr_dir, lr_dir, channels=1, val_dir=str(tmp_path / "val")))
    assert data.train.lr[0].shape == (12, 16, 1) and len(data.val.lr) == 2
    with pytest.raises(DataError, match="must hold pairs too"):
        TrainingData.load(paired_config(hr_dir, lr_dir, val_dir=str(tmp_path / "val" / "hr")))


def test_lr_dir_must_be_another_folder() -> None:
    with pytest.raises(ConfigError, match="lr_dir"):
        TrainConfig(data_dir="photos", lr_dir="photos/")


TINY = ["hr_patch=32", "batch_size=2", "gen_features=8", "gen_blocks=2", "disc_features=8", "val_count=2",
        "val_every=2", "checkpoint_every=2", "device=cpu", "init_generator=", "workers=0"]


def test_the_command_line_trains_on_pairs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    hr_dir, lr_dir = write_pairs(tmp_path / "data", 4)
    out = tmp_path / "run"
    assert main(["train", "--data", str(hr_dir), "--out", str(out), "--steps", "2",
                 "--set", *TINY, f"lr_dir={lr_dir}"]) == 0
    stored = TrainConfig.from_dict(load_checkpoint(out / "checkpoint.pt")["config"])
    assert stored.lr_dir == str(lr_dir.resolve()) and stored.steps == 2
    assert capsys.readouterr().err.strip().splitlines()[-1].startswith("completed")
    (lr_dir / "p00.png").unlink()
    code = main(["train", "--data", str(hr_dir), "--out", str(tmp_path / "bad"), "--steps", "2",
                 "--set", *TINY, f"lr_dir={lr_dir}"])
    assert code == 2
    assert f"error: 1 HR image has no LR partner in {lr_dir}: p00.png" in capsys.readouterr().err


def test_the_survey_counts_readable_images_and_names_the_unreadable(tmp_path: Path) -> None:
    write_pairs(tmp_path / "plain", 3)
    hr = tmp_path / "plain" / "hr"
    (hr / "broken.png").write_bytes(b"not a picture")
    (hr / "empty.jpg").write_bytes(b"")
    assert survey(str(hr), "", SCALE).describe() == (
        "3 images (HR only, LR made by the degradation below); 2 unreadable files (broken.png, empty.jpg) skipped")
    only_broken = tmp_path / "broken"
    only_broken.mkdir()
    for name in ("a.png", "b.png"):
        (only_broken / name).write_bytes(b"\\x89PNG but no more")
    with pytest.raises(DataError, match=r"no readable images in .*broken: 2 unreadable files \(a.png, b.png\)"):
        survey(str(only_broken), "", SCALE)
    write_pairs(tmp_path / "set", 3)
    (tmp_path / "set" / "lr" / "p01.png").write_bytes(b"damaged")
    assert survey(str(tmp_path / "set"), "", SCALE).describe() == (
        "2 pairs HR+LR in hr/ + lr/, x4 (the degradation setting is not used); 1 unreadable file (p01.png) skipped")
