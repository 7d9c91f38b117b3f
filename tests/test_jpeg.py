"""The banded JPEG writer: one valid baseline JPEG, decoded exactly as Pillow's whole-image encoding."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from engine.io.jpeg import JpegStream


def photo(height: int, width: int, channels: int) -> np.ndarray:
    y, x = np.mgrid[0:height, 0:width]
    base = np.stack([(x * 3) % 256, (y * 2) % 256, (x + y) % 256], axis=-1)[..., :channels]
    noise = np.random.default_rng(0).integers(-20, 21, base.shape)
    return np.clip(base + noise, 0, 255).astype(np.uint8)


def banded(pixels: np.ndarray, chunks: list[int], **options: object) -> bytes:
    file = io.BytesIO()
    with JpegStream(file, pixels.shape[1], pixels.shape[0], pixels.shape[2], **options) as stream:
        start = 0
        for count in chunks:
            stream.write_rows(pixels[start:start + count])
            start += count
    return file.getvalue()


@pytest.mark.parametrize(("height", "width", "channels", "chunks"), [
    (300, 517, 3, [300]),  # three bands, the last one short, width not a multiple of the MCU
    (1290, 40, 3, [7, 500, 1, 782]),  # eleven bands: the restart markers wrap past RST7; rows in odd pieces
    (200, 33, 1, [50, 150]),  # grey: 8-row MCUs
])
def test_bands_decode_as_the_whole_image_encoding(height: int, width: int, channels: int, chunks: list[int]) -> None:
    pixels = photo(height, width, channels)
    whole = io.BytesIO()
    Image.fromarray(pixels[..., 0] if channels == 1 else pixels).save(whole, "JPEG", quality=90)
    with Image.open(io.BytesIO(banded(pixels, chunks, quality=90))) as image:
        assert image.format == "JPEG" and image.size == (width, height)
        assert np.array_equal(np.asarray(image), np.asarray(Image.open(whole)))


def test_profile_and_exif_are_kept_once() -> None:
    exif = Image.Exif()
    exif[0x0112] = 1
    icc = bytes(range(256)) * 300  # 75 KB: more than one APP2 segment
    data = banded(photo(300, 40, 3), [300], icc=icc, exif=exif.tobytes())
    with Image.open(io.BytesIO(data)) as image:
        assert image.info["icc_profile"] == icc and image.getexif()[0x0112] == 1
    assert data.count(b"Exif\x00\x00") == 1


def test_a_short_or_long_stream_is_an_error() -> None:
    pixels = photo(40, 16, 3)
    with pytest.raises(ValueError, match="rows short"), JpegStream(io.BytesIO(), 16, 41, 3) as stream:
        stream.write_rows(pixels)
    with pytest.raises(ValueError, match="more rows"), JpegStream(io.BytesIO(), 16, 39, 3) as stream:
        stream.write_rows(pixels)
    with pytest.raises(ValueError, match="cannot write a 70000x8 JPEG"):
        JpegStream(io.BytesIO(), 70000, 8, 3)
