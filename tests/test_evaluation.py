"""The shared scoring protocol: how LR is made, what the baseline is, and what gets skipped."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from engine.archs.networks import CompactGenerator
from engine.cli.main import main
from engine.errors import DataError
from engine.models.export import export_generator
from engine.scoring.evaluation import ImageScore, bicubic_baseline, describe, make_pair, mean_score, score_folder
from engine.scoring.metrics import psnr_y


def test_make_pair_crops_the_centre_and_shrinks_like_matlab() -> None:
    image = np.random.default_rng(0).integers(0, 256, (70, 90, 3), dtype=np.uint8)
    hr, lr = make_pair(image, 4, max_side=64)
    assert hr.shape == (64, 64, 3) and np.array_equal(hr, image[3:67, 13:77])
    expected = np.asarray(Image.fromarray(hr).resize((16, 16), Image.Resampling.BICUBIC))
    assert np.array_equal(lr, expected)
    whole, _ = make_pair(image, 4)
    assert whole.shape == (68, 88, 3)


def test_the_baseline_of_a_smooth_image_is_close_and_a_model_equal_to_it_scores_the_same(tmp_path: Path) -> None:
    y, x = np.mgrid[0:96, 0:96]
    smooth = np.stack([x * 2, y * 2, (x + y)], axis=-1).astype(np.uint8)
    hr, lr = make_pair(smooth, 4)
    assert psnr_y(bicubic_baseline(lr, 4), hr, 4) > 40
    Image.fromarray(smooth).save(tmp_path / "smooth.png")
    (score,) = score_folder(lambda small: bicubic_baseline(small, 4), 4, tmp_path)
    assert isinstance(score, ImageScore)
    assert (score.psnr, score.ssim) == (score.bicubic_psnr, score.bicubic_ssim)


def test_unusable_files_are_named_and_skipped(tmp_path: Path) -> None:
    Image.fromarray(np.zeros((64, 64, 3), np.uint8)).save(tmp_path / "a_good.png")
    Image.fromarray(np.zeros((16, 16, 3), np.uint8)).save(tmp_path / "b_tiny.png")
    (tmp_path / "c_broken.png").write_bytes(b"not a png")
    results = list(score_folder(lambda small: bicubic_baseline(small, 4), 4, tmp_path))
    assert isinstance(results[0], ImageScore) and results[0].name == "a_good.png"
    assert results[1:] == ["skipped b_tiny.png: too small",
                           "skipped c_broken.png: c_broken.png is not an image file, or in a format this app cannot open"]
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no readable images"):
        next(score_folder(lambda small: small, 4, tmp_path / "empty"))


def bomb_png(path: Path, side: int = 50_000) -> Path:
    """A PNG header claiming side x side grey pixels: Pillow refuses it on opening, before decoding."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IEND", b""))
    return path


def test_a_decompression_bomb_is_skipped_with_a_warning(tmp_path: Path) -> None:
    Image.fromarray(np.zeros((64, 64, 3), np.uint8)).save(tmp_path / "a_good.png")
    bomb_png(tmp_path / "b_bomb.png")
    results = list(score_folder(lambda small: bicubic_baseline(small, 4), 4, tmp_path))
    assert isinstance(results[0], ImageScore)
    assert results[1] == ("skipped b_bomb.png: image too large (2500 megapixels) — refused as a possible "
                          "decompression bomb")


def test_eval_on_a_folder_with_a_bomb_warns_in_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    net = CompactGenerator(3, num_feat=4, num_conv=1, scale=4)
    model = export_generator(tmp_path / "m.safetensors", net.state_dict(), net.spec(), (0.0, 1.0))
    data = tmp_path / "data"
    data.mkdir()
    Image.fromarray(np.zeros((64, 64, 3), np.uint8)).save(data / "a_good.png")
    bomb_png(data / "b_bomb.png")
    assert main(["eval", "--model", str(model), "--data", str(data)]) == 0
    err = capsys.readouterr().err
    assert err == ("warning: skipped b_bomb.png: image too large (2500 megapixels) — refused as a possible "
                   "decompression bomb\n")


def test_mean_and_description() -> None:
    scores = [ImageScore("a", 30, 0.8, 28, 0.7), ImageScore("b", 32, 0.9, 29, 0.8)]
    assert mean_score(scores) == ImageScore("mean of 2", 31, pytest.approx(0.85), 28.5, pytest.approx(0.75))
    assert describe(4, None).startswith("HR: whole images") and "1024x1024" in describe(4, 1024)
