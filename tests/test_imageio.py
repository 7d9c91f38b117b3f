"""Reading every common mode upright with its metadata, refusing bad files clearly, writing safely."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageCms

from engine.io.images import ORIENTATION_TAG, ImageReadError, ImageWriteError, is_image_file, read_image, save_image
from tests.png_helpers import write_png


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def srgb_icc() -> bytes:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


@pytest.fixture
def rgb() -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, (20, 30, 3), dtype=np.uint8)


@pytest.mark.parametrize("mode,channels,has_alpha", [
    ("L", 1, False), ("LA", 1, True), ("RGB", 3, False), ("RGBA", 3, True), ("CMYK", 3, False),
    ("P", 3, False), ("1", 1, False),
])
def test_modes_reduce_to_grey_or_rgb_plus_alpha(tmp_path: Path, rgb: np.ndarray, mode: str, channels: int,
                                                has_alpha: bool) -> None:
    path = tmp_path / ("image.tif" if mode == "CMYK" else "image.png")
    Image.fromarray(rgb).convert(mode).save(path)
    image = read_image(path)
    assert image.pixels.shape == (20, 30, channels) and image.pixels.dtype == np.uint8
    assert (image.alpha is not None) == has_alpha
    assert image.mode == mode and image.size == (30, 20)


def test_palette_with_transparency_keeps_its_alpha(tmp_path: Path) -> None:
    palette = Image.new("P", (8, 8), 0)
    palette.putpalette([255, 0, 0, 0, 0, 255] + [0] * 762)
    palette.paste(1, (4, 0, 8, 8))
    palette.info["transparency"] = 1
    palette.save(tmp_path / "p.png", transparency=1)
    image = read_image(tmp_path / "p.png")
    assert image.alpha is not None
    assert (image.alpha[:, :4] == 255).all() and (image.alpha[:, 4:] == 0).all()


def test_sixteen_bit_grey_keeps_its_precision_as_float(tmp_path: Path) -> None:
    values = np.array([[0, 1, 257, 65535]], dtype=np.uint16)
    Image.fromarray(values).save(tmp_path / "deep.png")
    image = read_image(tmp_path / "deep.png")
    assert image.pixels.dtype == np.float32 and image.pixels.shape == (1, 4, 1)
    np.testing.assert_allclose(image.pixels[0, :, 0], values[0] / 65535, rtol=1e-6)
    assert image.pixels[0, 1, 0] != image.pixels[0, 0, 0]  # 1/65535 survives; 8 bits would lose it


def test_exif_orientation_is_applied_and_reset(tmp_path: Path, rgb: np.ndarray) -> None:
    exif = Image.Exif()
    exif[ORIENTATION_TAG] = 6  # "rotate 90 CW to display"
    Image.fromarray(rgb).save(tmp_path / "rotated.jpg", exif=exif.tobytes())
    image = read_image(tmp_path / "rotated.jpg")
    assert image.size == (20, 30) and image.pixels.shape[:2] == (30, 20)
    stored = Image.Exif()
    stored.load(image.exif)
    assert stored[ORIENTATION_TAG] == 1


def test_icc_and_exif_are_carried_to_the_output(tmp_path: Path, rgb: np.ndarray) -> None:
    exif = Image.Exif()
    exif[0x010F] = "TestCam"  # Make
    icc = srgb_icc()  # once: the profile carries its creation time, to the second
    Image.fromarray(rgb).save(tmp_path / "in.jpg", icc_profile=icc, exif=exif.tobytes())
    image = read_image(tmp_path / "in.jpg")
    for fmt in ("png", "jpg", "webp"):
        out = save_image(image.pixels, tmp_path / f"out.{fmt}", icc=image.icc, exif=image.exif)
        with Image.open(out) as written:
            assert written.info.get("icc_profile") == icc
            assert written.getexif()[0x010F] == "TestCam"


@pytest.mark.parametrize("content,message", [
    (b"", "empty"),
    (b"just some notes, not pixels", "not an image"),
])
def test_non_images_are_refused_clearly(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "photo.png"
    path.write_bytes(content)
    with pytest.raises(ImageReadError, match=message):
        read_image(path)
    assert path.read_bytes() == content


def test_truncated_image_is_refused_clearly(tmp_path: Path, rgb: np.ndarray) -> None:
    Image.fromarray(rgb).save(tmp_path / "full.png")
    path = tmp_path / "cut.png"
    path.write_bytes((tmp_path / "full.png").read_bytes()[:120])
    with pytest.raises(ImageReadError, match="damaged or truncated"):
        read_image(path)


def test_content_wins_over_the_extension(tmp_path: Path, rgb: np.ndarray) -> None:
    Image.fromarray(rgb).save(tmp_path / "actually_png.jpg", format="PNG")
    image = read_image(tmp_path / "actually_png.jpg")
    assert image.format == "png"
    np.testing.assert_array_equal(image.pixels, rgb)
    assert is_image_file(tmp_path / "actually_png.jpg")


def test_decompression_bomb_is_refused_with_its_size(tmp_path: Path) -> None:
    Image.new("L", (2000, 1500)).save(tmp_path / "big.png")
    with pytest.raises(ImageReadError, match=r"image too large \(3 megapixels\).*decompression bomb"):
        read_image(tmp_path / "big.png", max_pixels=1_000_000)
    assert read_image(tmp_path / "big.png").size == (2000, 1500)  # Pillow's default limit lets it through


def test_folders_and_broken_links_are_refused_clearly(tmp_path: Path) -> None:
    with pytest.raises(ImageReadError, match="is a folder"):
        read_image(tmp_path)
    (tmp_path / "dangling.png").symlink_to(tmp_path / "gone.png")
    with pytest.raises(ImageReadError, match="does not exist"):
        read_image(tmp_path / "dangling.png")


def test_existing_output_is_never_overwritten_unless_asked(tmp_path: Path, rgb: np.ndarray) -> None:
    target = tmp_path / "out.png"
    target.write_bytes(b"precious")
    with pytest.raises(ImageWriteError, match="already exists"):
        save_image(rgb, target)
    assert target.read_bytes() == b"precious"
    save_image(rgb, target, overwrite=True)
    np.testing.assert_array_equal(read_image(target).pixels, rgb)
    assert [p.name for p in tmp_path.iterdir()] == ["out.png"]  # no temporary file left behind


def test_output_folder_blocked_by_a_file_is_a_clear_error(tmp_path: Path, rgb: np.ndarray) -> None:
    blocker = tmp_path / "not_a_folder"
    blocker.write_bytes(b"data")
    with pytest.raises(ImageWriteError, match="a file is in the way"):
        save_image(rgb, blocker / "sub" / "out.png")
    assert blocker.read_bytes() == b"data"


def test_jpeg_output_flattens_alpha_onto_white(tmp_path: Path) -> None:
    rgba = np.zeros((8, 8, 4), dtype=np.uint8)  # fully transparent black
    save_image(rgba, tmp_path / "flat.jpg")
    assert read_image(tmp_path / "flat.jpg").pixels.min() > 240


def test_unknown_output_format_is_refused(tmp_path: Path, rgb: np.ndarray) -> None:
    with pytest.raises(ImageWriteError, match="output format"):
        save_image(rgb, tmp_path / "out.bmp")
    assert not (tmp_path / "out.bmp").exists()


def deep_colour(height: int, width: int, channels: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 65536, (height, width, channels), dtype=np.uint16)


@pytest.mark.parametrize("channels", [2, 3, 4])
def test_sixteen_bit_colour_keeps_its_low_bytes(tmp_path: Path, channels: int) -> None:
    """Pillow alone reads 16-bit RGB/RGBA/LA as 8 bits; every bit of every sample must survive."""
    values = deep_colour(5, 7, channels)
    with (tmp_path / "deep.png").open("wb") as file:
        write_png(file, values)
    image = read_image(tmp_path / "deep.png")
    colour = channels - 1 if channels in (2, 4) else channels
    assert image.pixels.dtype == np.float32 and image.pixels.shape == (5, 7, colour)
    np.testing.assert_array_equal(np.round(image.pixels * 65535), values[..., :colour])
    if channels in (2, 4):
        np.testing.assert_array_equal(np.round(image.alpha * 65535), values[..., -1])


def test_sixteen_bit_colour_is_turned_upright_too(tmp_path: Path) -> None:
    values = deep_colour(4, 6, 3)
    exif = Image.Exif()
    exif[ORIENTATION_TAG] = 6  # "rotate 90 CW to display"
    with (tmp_path / "deep.png").open("wb") as file:
        write_png(file, values, exif=exif.tobytes())
    image = read_image(tmp_path / "deep.png")
    assert image.size == (4, 6)
    np.testing.assert_array_equal(np.round(image.pixels * 65535), np.rot90(values, k=-1))


@pytest.mark.parametrize("channels", [1, 2, 3, 4])
def test_sixteen_bit_pixels_are_written_as_sixteen_bit_png(tmp_path: Path, channels: int) -> None:
    values = deep_colour(6, 5, channels, seed=channels)
    path = save_image(values, tmp_path / "deep.png")
    assert path.read_bytes()[24] == 16  # IHDR bit depth
    image = read_image(path)
    restored = image.pixels if image.alpha is None else np.concatenate([image.pixels, image.alpha[..., None]], 2)
    np.testing.assert_array_equal(np.round(restored * 65535), values)


def test_grey_with_alpha_is_written_as_grey_with_alpha(tmp_path: Path) -> None:
    la = np.random.default_rng(3).integers(0, 256, (6, 5, 2), dtype=np.uint8)
    for fmt, mode in (("png", "LA"), ("webp", "RGBA"), ("jpg", "L")):
        with Image.open(save_image(la, tmp_path / f"la.{fmt}")) as written:
            assert written.mode == mode
    np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "la.png")), la)


@pytest.mark.parametrize("suffix", ["gif", "png", "webp"])
def test_an_animation_says_only_its_first_frame_is_used(tmp_path: Path, suffix: str) -> None:
    frames = [Image.new("RGB", (8, 8), (60 * i, 0, 0)) for i in range(3)]
    frames[0].save(tmp_path / f"anim.{suffix}", save_all=True, append_images=frames[1:])
    assert read_image(tmp_path / f"anim.{suffix}").warnings == ("animated (3 frames): first frame only",)
    frames[0].save(tmp_path / f"still.{suffix}")
    assert read_image(tmp_path / f"still.{suffix}").warnings == ()
