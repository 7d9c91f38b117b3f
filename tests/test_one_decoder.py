"""Training, paired data, evaluation, the benchmark pairs and upscaling read a file to the same pixels:
one decoder (engine.io.images), so a 16-bit grey PNG or an EXIF-rotated photo is the same picture
everywhere (16-bit grey used to train and score as pure white)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from engine.data.dataset import load_sources
from engine.data.survey import survey
from engine.io.images import ORIENTATION_TAG, quantize, read_image, read_pixels
from engine.scoring import pairs
from engine.scoring.evaluation import ImageScore, bicubic_baseline, score_folder


def grey_gradient() -> np.ndarray:
    """64x96 16-bit grey, dark to light left to right, with fine steps down the rows."""
    y, x = np.mgrid[0:64, 0:96]
    return (x * 680 + y * 3).astype(np.uint16)


def scores(folder: Path) -> list[ImageScore | str]:
    return list(score_folder(lambda small: bicubic_baseline(small, 4), 4, folder))


def test_sixteen_bit_grey_is_the_same_picture_for_training_eval_and_upscaling(tmp_path: Path) -> None:
    deep, flat = tmp_path / "deep", tmp_path / "flat"
    deep.mkdir()
    flat.mkdir()
    Image.fromarray(grey_gradient()).save(deep / "g.png")
    assert Image.open(deep / "g.png").mode == "I;16"
    expected = (grey_gradient() / 257 + 0.5).astype(np.uint8)[..., None]  # 8-bit precision
    Image.fromarray(expected[..., 0]).save(flat / "g.png")

    upscaled = quantize(read_image(deep / "g.png").pixels, np.uint8)
    np.testing.assert_array_equal(upscaled, expected)
    for channels in (1, 3):
        (trained,) = load_sources([(deep / "g.png", None)], channels, 8, 4).images
        np.testing.assert_array_equal(trained, np.repeat(expected, channels, axis=2))
    np.testing.assert_array_equal(pairs.load_rgb(deep / "g.png"), np.repeat(expected, 3, axis=2))
    (score,) = scores(deep)
    assert isinstance(score, ImageScore) and np.isfinite(score.bicubic_psnr)  # white gave inf
    assert scores(deep) == scores(flat)


def test_paired_sixteen_bit_partners_are_read_too(tmp_path: Path) -> None:
    hr = grey_gradient()
    Image.fromarray(hr).save(tmp_path / "hr.png")
    Image.fromarray(hr[::4, ::4].copy()).save(tmp_path / "lr.png")
    data = load_sources([(tmp_path / "hr.png", tmp_path / "lr.png")], 1, 8, 4)
    np.testing.assert_array_equal(data.lr[0], data.images[0][::4, ::4])
    assert data.images[0].min() < 10 and data.images[0].max() > 245


def test_exif_orientation_is_applied_by_every_reader(tmp_path: Path) -> None:
    rgb = np.random.default_rng(0).integers(0, 256, (40, 64, 3), dtype=np.uint8)
    exif = Image.Exif()
    exif[ORIENTATION_TAG] = 6  # "rotate 90 degrees clockwise to display"
    folder = tmp_path / "photos"
    folder.mkdir()
    Image.fromarray(rgb).save(folder / "turned.png", exif=exif.tobytes())
    upright = np.rot90(rgb, k=-1)

    np.testing.assert_array_equal(read_image(folder / "turned.png").pixels, upright)
    np.testing.assert_array_equal(read_pixels(folder / "turned.png", 3), upright)
    (trained,) = load_sources([(folder / "turned.png", None)], 3, 8, 4).images
    np.testing.assert_array_equal(trained, upright)
    np.testing.assert_array_equal(pairs.load_rgb(folder / "turned.png"), upright)
    plain = tmp_path / "plain"
    plain.mkdir()
    Image.fromarray(np.ascontiguousarray(upright)).save(plain / "turned.png")
    assert scores(folder) == scores(plain)


def test_pairs_are_checked_at_their_upright_sizes(tmp_path: Path) -> None:
    """A phone's HR shot stored sideways with an orientation tag pairs with its upright LR, as training reads them."""
    exif = Image.Exif()
    exif[ORIENTATION_TAG] = 6
    for side in ("hr", "lr"):
        (tmp_path / side).mkdir()
    Image.new("RGB", (64, 32)).save(tmp_path / "hr" / "a.png", exif=exif.tobytes())  # 32x64 upright
    Image.new("RGB", (8, 16)).save(tmp_path / "lr" / "a.png")
    assert survey(str(tmp_path), "", 4).count == 1
