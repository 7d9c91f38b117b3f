"""scripts/make_distill_pairs.py: teacher pairs the trainer reads as paired data, held-out pairs of true crops."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from engine.data.pairs import match_pairs, resolve_folders
from engine.scoring.pairs import BenchError
from scripts import make_distill_pairs


def _photos(folder: Path) -> dict[str, np.ndarray]:
    folder.mkdir()
    rng = np.random.default_rng(3)
    photos = {}
    for name, (height, width) in {"wide": (72, 96), "tall": (100, 80)}.items():
        pixels = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(folder / f"{name}.png")
        photos[name] = pixels
    (folder / "notes.txt").write_text("not an image")
    return photos


def _pairs(out: Path) -> list[tuple[Path, Path]]:
    folders = resolve_folders(str(out), "")
    assert folders.paired
    return match_pairs(folders.hr, sorted(folders.hr.iterdir()), folders.lr, sorted(folders.lr.iterdir()))


def test_teacher_pairs_are_paired_data_at_the_teachers_scale(tmp_path: Path) -> None:
    _photos(tmp_path / "photos")
    count = make_distill_pairs.make_pairs(tmp_path / "photos", tmp_path / "out", "default-x4", 4, crops=2, side=32,
                                          seed=0)
    pairs = _pairs(tmp_path / "out")
    assert count == len(pairs) == 2 * 2 * 2  # two photos, two sizes, two crops each
    for hr, lr in pairs:
        assert hr.name == lr.name
        assert Image.open(hr).size == (32, 32) and Image.open(lr).size == (8, 8)


def test_held_out_pairs_keep_the_true_crop_and_the_same_seed_makes_the_same_pairs(tmp_path: Path) -> None:
    photos = _photos(tmp_path / "photos")
    for run in ("a", "b"):
        make_distill_pairs.make_pairs(tmp_path / "photos", tmp_path / run, None, 4, crops=1, side=32, seed=5)
    for (hr, lr), (hr_b, lr_b) in zip(_pairs(tmp_path / "a"), _pairs(tmp_path / "b"), strict=True):
        assert np.array_equal(np.asarray(Image.open(lr)), np.asarray(Image.open(lr_b)))
        assert np.array_equal(np.asarray(Image.open(hr)), np.asarray(Image.open(hr_b)))
    full_size = [hr for hr, _ in _pairs(tmp_path / "a") if hr.name.endswith(("0000.png", "0002.png"))]
    for hr in full_size:
        crop = np.asarray(Image.open(hr))
        source = photos[hr.name.split("-")[0]]
        windows = np.lib.stride_tricks.sliding_window_view(source, crop.shape)
        assert (windows == crop).all(axis=(-3, -2, -1)).any()  # an untouched piece of the original


def test_a_teacher_of_another_scale_is_refused(tmp_path: Path) -> None:
    _photos(tmp_path / "photos")
    with pytest.raises(BenchError, match="x2, not x4"):
        make_distill_pairs.make_pairs(tmp_path / "photos", tmp_path / "out", "faithful-x2", 4, crops=1, side=32,
                                      seed=0)


def test_a_folder_without_photos_is_a_message_and_a_non_zero_exit(tmp_path: Path, capsys) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(SystemExit) as exit_info:
        make_distill_pairs.main([str(tmp_path / "empty"), str(tmp_path / "out"), "--original"])
    assert exit_info.value.code == 2
    assert f"no images in {tmp_path / 'empty'}" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
