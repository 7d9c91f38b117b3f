"""The bundled sample set (every image credited in LICENSES.md and usable for training) and the quality
benchmark that scores models against bicubic."""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from bench import quality
from engine.scoring import pairs
from engine.scoring.evaluation import bicubic_resize
from engine.resources import resource_path
from scripts import make_sample_set, prepare_photos

SAMPLES = resource_path("samples")
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png"}


def sample_files() -> list[Path]:
    return sorted(p for p in SAMPLES.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)


def licence_rows() -> list[list[str]]:
    """The cells of each LICENSES.md table row that names an image: file, package, source, author, licence, crop."""
    text = resource_path("LICENSES.md").read_text(encoding="utf-8")
    rows = re.findall(r"^\|(.+\.(?:jpe?g|png) *\|.*)\|$", text, re.M | re.I)
    return [[cell.strip() for cell in row.split("|")] for row in rows]


def test_every_sample_is_credited_and_every_credit_is_a_sample() -> None:
    credited = [row[0] for row in licence_rows()]
    assert len(credited) == len(set(credited)), "a file is listed twice in LICENSES.md"
    assert sorted(credited) == [p.name for p in sample_files()]


def test_every_sample_comes_from_a_redistributable_photo() -> None:
    rows = licence_rows()
    assert rows and all(row[4].startswith(make_sample_set.REDISTRIBUTABLE) for row in rows)


def test_no_sample_comes_from_a_validation_photo() -> None:
    try:
        photos = prepare_photos.all_photos()
    except (OSError, KeyError):
        pytest.skip("the wallpaper packages are not installed (scripts/install_training_photos.sh)")
    val_sources = {p.source for i, p in enumerate(photos) if prepare_photos.split_of(i) == "val"}
    assert val_sources and not val_sources & {row[2] for row in licence_rows()}


def test_sample_set_is_big_enough_to_train_and_small_enough_to_ship() -> None:
    files = sample_files()
    assert len(files) >= 16  # the trainer holds out 8 for validation
    assert sum(p.stat().st_size for p in files) < 6_000_000


@pytest.mark.parametrize("path", sample_files(), ids=lambda p: p.name)
def test_sample_is_a_readable_rgb_image_of_useful_size(path: Path) -> None:
    with Image.open(path) as image:
        image.load()
        assert image.mode == "RGB"
        assert min(image.size) >= 128


# ----------------------------------------------------------------------------- bench/quality.py
def tiny_model(path: Path, scale: int = 4) -> Path:
    from engine.archs.networks import CompactGenerator
    from engine.models.export import export_generator

    torch.manual_seed(0)
    generator = CompactGenerator(num_feat=4, num_conv=1, scale=scale)
    return export_generator(path, generator.state_dict(), generator.spec(), generator.value_range)


def photo_folder(folder: Path, count: int = 2) -> Path:
    """Small smooth-but-detailed RGB images (gradients plus a sine pattern), one of them not a multiple of 4."""
    folder.mkdir()
    y, x = np.mgrid[0:70, 0:90]
    for index in range(count):
        pattern = np.sin(x / (3 + index)) * np.cos(y / 4) * 60
        rgb = np.stack([x * 2 + pattern, y * 3 - pattern, 128 + pattern], axis=2)
        Image.fromarray(np.clip(rgb, 0, 255).astype(np.uint8)).save(folder / f"photo_{index}.png")
    return folder


def test_quality_benchmark_prints_a_finite_table_and_a_side_by_side(tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    model = tiny_model(tmp_path / "tiny.safetensors")
    figure = tmp_path / "side.png"
    code = quality.main(["--model", str(model), "--data", str(photo_folder(tmp_path / "photos")),
                         "--side-by-side", str(figure)])
    out = capsys.readouterr().out
    assert code == 0
    rows = {line.split()[0]: line.split()[1:] for line in out.splitlines() if line.startswith(("bicubic", "tiny"))}
    assert set(rows) == {"bicubic", "tiny"}
    numbers = [float(value.rstrip("x")) for row in rows.values() for value in row]
    assert all(math.isfinite(n) for n in numbers)
    assert float(rows["bicubic"][1]) == 0.0  # bicubic's own difference from bicubic
    with Image.open(figure) as picture:
        # a row per photo (2), each of LR, bicubic, tiny and original: panels as big as the 88x68 centre crop's
        # short side allows, 4-px gaps, a 16-px label strip.
        assert picture.size == (4 * (68 + 4) + 4, 16 + 2 * (68 + 4))


def test_scores_reward_the_exact_original_and_penalise_blur() -> None:
    rng = np.random.default_rng(0)
    hr = rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)
    pair = quality.Pair("noise", hr, bicubic_resize(hr, (16, 16)))
    scores, outputs = quality.evaluate([pair], {"bicubic": quality.bicubic_method(4), "oracle": lambda lr: hr}, 4)
    oracle, bicubic = scores["oracle"], scores["bicubic"]
    assert oracle.psnr == [math.inf] and oracle.ssim[0] == pytest.approx(1.0) and oracle.detail[0] == pytest.approx(1.0)
    assert bicubic.psnr[0] < 20 and bicubic.detail[0] < 0.5  # noise cannot be recovered from 16x16
    assert outputs[0]["oracle"] is hr


def test_per_image_table_shows_each_gain_over_bicubic(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    scores = {"bicubic": quality.Scores(psnr=[30.0, 40.0]), "model": quality.Scores(psnr=[33.5, 40.25])}
    lines = quality.format_per_image(["flat", "sharp"], scores).splitlines()
    assert lines[0].split() == ["image", "bicubic", "model"]
    assert lines[1].split() == ["flat", "30.00", "(+0.00)", "33.50", "(+3.50)"]
    assert lines[2].split() == ["sharp", "40.00", "(+0.00)", "40.25", "(+0.25)"]
    model = tiny_model(tmp_path / "tiny.safetensors")
    assert quality.main(["--model", str(model), "--data", str(photo_folder(tmp_path / "photos")), "--per-image"]) == 0
    assert sum(line.startswith("photo_") for line in capsys.readouterr().out.splitlines()) == 2


def test_quality_benchmark_refuses_a_model_of_another_scale(tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    model = tiny_model(tmp_path / "x2.safetensors", scale=2)
    code = quality.main(["--model", str(model), "--data", str(photo_folder(tmp_path / "photos", 1))])
    assert code == 1
    assert "x2" in capsys.readouterr().err


def test_vgg_distance_is_zero_for_the_original_and_grows_with_blur(tmp_path: Path) -> None:
    from safetensors.torch import save_file

    from engine.training.perceptual import vgg_feature_stack

    torch.manual_seed(0)
    weights = tmp_path / "vgg16.safetensors"
    save_file({f"features.{k}": v for k, v in vgg_feature_stack("vgg16").state_dict().items()}, str(weights))
    vgg = quality.VggDistance(weights)
    folder = photo_folder(tmp_path / "photos", 1)
    hr = pairs.load_rgb(folder / "photo_0.png")[:64, :64]
    original = vgg.embed(hr)

    def blurred(factor: int) -> np.ndarray:
        return bicubic_resize(bicubic_resize(hr, (64 // factor, 64 // factor)), (64, 64))

    mild, strong = (vgg.distance(vgg.embed(blurred(f)), original) for f in (2, 4))
    assert vgg.distance(original, original) == 0.0
    assert 0 < mild < strong


def test_vgg_distance_refuses_a_missing_weights_file(tmp_path: Path) -> None:
    with pytest.raises(quality.BenchError, match="missing.safetensors"):
        quality.VggDistance(tmp_path / "missing.safetensors")


def test_a_run_folder_stands_for_its_exported_generator(tmp_path: Path) -> None:
    run = tmp_path / "runs" / "classic"
    run.mkdir(parents=True)
    with pytest.raises(quality.BenchError, match="neither"):
        quality.resolve_run(str(run))
    exported = tiny_model(run / "generator.safetensors")
    assert quality.resolve_run(str(run)) == str(exported)
    assert quality.resolve_run(str(exported)) == str(exported)
