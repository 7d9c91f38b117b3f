"""bench/quality.py on degraded photos: LR sets made with fixed seeds, and LR files someone brings (--pairs)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from bench import quality
from engine.scoring.pairs import BenchError, degraded_pairs, given_pairs, write_pairs
from engine.scoring.evaluation import bicubic_resize


def photo(seed: int, size: tuple[int, int] = (72, 96)) -> np.ndarray:
    """Gradients, a sine pattern and a little noise: detail for blur, noise and JPEG to change."""
    y, x = np.mgrid[0:size[0], 0:size[1]]
    pattern = np.sin(x / (3 + seed)) * np.cos(y / 4) * 60
    rgb = np.stack([x * 2 + pattern, y * 3 - pattern, 128 + pattern], axis=2)
    rgb += np.random.default_rng(seed).normal(0, 4, rgb.shape)
    return np.clip(rgb, 0, 255).astype(np.uint8)


def save(folder: Path, name: str, pixels: np.ndarray) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(folder / name)
    return folder / name


@pytest.fixture
def photos(tmp_path: Path) -> Path:
    for index in range(3):
        save(tmp_path / "photos", f"p{index}.png", photo(index))
    return tmp_path / "photos"


def table_rows(out: str) -> dict[str, list[str]]:
    return {line.split()[0]: line.split()[1:] for line in out.splitlines() if line.startswith(("bicubic", "oracle"))}


# ----------------------------------------------------------------------------- --pairs
def test_pairs_match_by_name_and_crop_the_original_to_scale_times_lr(tmp_path: Path) -> None:
    originals = {"a": photo(0, (66, 83)), "b": photo(1)}
    for name, hr in originals.items():
        save(tmp_path / "hr", f"{name}.png", hr)
        save(tmp_path / "lr", f"{name}.jpg", bicubic_resize(hr, (hr.shape[1] // 4, hr.shape[0] // 4)))
    pairs = given_pairs(tmp_path / "hr", tmp_path / "lr", 4, None)
    assert [pair.name for pair in pairs] == ["a", "b"]
    assert pairs[0].lr.shape == (16, 20, 3) and np.array_equal(pairs[0].hr, originals["a"][:64, :80])
    assert [pair.name for pair in given_pairs(tmp_path / "hr", tmp_path / "lr", 4, 1)] == ["a"]


def test_pairs_name_what_does_not_match(tmp_path: Path) -> None:
    save(tmp_path / "hr", "a.png", photo(0))
    save(tmp_path / "hr", "b.png", photo(1))
    save(tmp_path / "lr", "a.png", photo(0)[::4, ::4])
    save(tmp_path / "lr", "c.png", photo(0)[::4, ::4])
    with pytest.raises(BenchError, match=r"lr has no file named like the HR image\(s\) b"):
        given_pairs(tmp_path / "hr", tmp_path / "lr", 4, None)
    save(tmp_path / "lr", "b.png", photo(1)[::4, ::4])
    with pytest.raises(BenchError, match=r"hr has no file named like the LR image\(s\) c"):
        given_pairs(tmp_path / "hr", tmp_path / "lr", 4, None)
    save(tmp_path / "hr", "c.png", photo(2))
    save(tmp_path / "hr", "c.jpg", photo(2))
    with pytest.raises(BenchError, match="both c.jpg and c.png"):
        given_pairs(tmp_path / "hr", tmp_path / "lr", 4, None)


def test_pairs_refuse_sizes_that_are_not_the_scale(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    save(tmp_path / "hr", "a.png", photo(0))  # 96x72
    save(tmp_path / "lr", "a.png", photo(0)[::2, ::2])  # 48x36: x2, not x4
    with pytest.raises(BenchError, match="a: the LR image is 48x36, but the original 96x72 is not x4"):
        given_pairs(tmp_path / "hr", tmp_path / "lr", 4, None)
    assert quality.main(["--pairs", str(tmp_path / "hr"), str(tmp_path / "lr")]) == 1
    assert capsys.readouterr().err.startswith("error: a: the LR image is 48x36")
    assert len(given_pairs(tmp_path / "hr", tmp_path / "lr", 2, None)) == 1


# ----------------------------------------------------------------------------- --degrade
@pytest.mark.parametrize("how", ["photo", "heavy", "realistic"])
def test_degraded_sets_are_deterministic_and_seeded(photos: Path, how: str) -> None:
    first = degraded_pairs(photos, 4, 64, None, how, "strong", seed=1)
    assert [(pair.hr.shape, pair.lr.shape) for pair in first] == [((64, 64, 3), (16, 16, 3))] * 3
    again = degraded_pairs(photos, 4, 64, None, how, "strong", seed=1)
    assert all(np.array_equal(a.lr, b.lr) and np.array_equal(a.hr, b.hr) for a, b in zip(first, again))
    other = degraded_pairs(photos, 4, 64, None, how, "strong", seed=2)
    assert not any(np.array_equal(a.lr, b.lr) for a, b in zip(first, other))
    clean = [bicubic_resize(pair.hr, (16, 16)) for pair in first]
    assert all(np.abs(pair.lr.astype(int) - lr).mean() > 1 for pair, lr in zip(first, clean))
    # each image has its own seed: leaving one photo out changes no other's input
    (photos / "p0.png").unlink()
    assert all(np.array_equal(a.lr, b.lr) for a, b in zip(first[1:], degraded_pairs(photos, 4, 64, None, how,
                                                                                        "strong", seed=1)))


def test_a_written_set_scores_the_same_through_pairs(photos: Path, tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    figure = tmp_path / "side.png"
    argv = ["--data", str(photos), "--degrade", "photo", "--max-side", "64", "--seed", "3"]
    assert quality.main([*argv, "--write-lr", str(tmp_path / "set"), "--side-by-side", str(figure)]) == 0
    out = capsys.readouterr().out
    assert "JPEG quality 60 (noise seed 3)" in out and "VGG dist" in out
    degraded = table_rows(out)["bicubic"]
    with Image.open(figure) as picture:
        assert picture.size == (3 * (64 + 4) + 4, 16 + 3 * (64 + 4))  # LR, bicubic, original; a row a photo
    assert quality.main(["--pairs", str(tmp_path / "set" / "HR"), str(tmp_path / "set" / "LR")]) == 0
    rescored = table_rows(capsys.readouterr().out)["bicubic"]
    assert rescored[:-1] == degraded[:-1]  # all but the running time
    before = (tmp_path / "set" / "LR" / "p0.png").read_bytes()
    assert quality.main([*argv, "--seed", "4", "--write-lr", str(tmp_path / "set")]) == 1
    assert "already exists" in capsys.readouterr().err
    assert (tmp_path / "set" / "LR" / "p0.png").read_bytes() == before


def test_every_table_has_the_vgg_distance_and_it_rewards_the_original(photos: Path,
                                                                       capsys: pytest.CaptureFixture[str],
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    pairs = degraded_pairs(photos, 4, 64, None, "heavy", "medium", seed=0)
    originals = {pair.lr.tobytes(): pair.hr for pair in pairs}
    monkeypatch.setattr(quality, "build_methods", lambda args: {
        "bicubic": quality.bicubic_method(4), "oracle": lambda lr: originals[lr.tobytes()]})
    assert quality.main(["--data", str(photos), "--degrade", "heavy", "--max-side", "64"]) == 0
    rows = table_rows(capsys.readouterr().out)
    assert float(rows["oracle"][-3]) == 0.0 < float(rows["bicubic"][-3])  # the VGG distance column


def test_degrade_options_need_their_companions(photos: Path, tmp_path: Path) -> None:
    with pytest.raises(SystemExit):
        quality.main(["--pairs", str(tmp_path), str(tmp_path), "--degrade", "photo"])
    with pytest.raises(SystemExit):
        quality.main(["--data", str(photos), "--write-lr", str(tmp_path / "set")])
    with pytest.raises(BenchError, match="already exists"):
        pairs = degraded_pairs(photos, 4, 64, 1, "photo", "medium", 0)
        write_pairs(pairs, tmp_path / "set")
        write_pairs(pairs, tmp_path / "set")
