"""The bundled sample set: every image is credited in LICENSES.md, and every image is usable for training."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from PIL import Image

RESOURCES = Path(__file__).resolve().parent.parent / "resources"
SAMPLES = RESOURCES / "samples"
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png"}


def sample_files() -> list[Path]:
    return sorted(p for p in SAMPLES.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)


def credited_files() -> list[str]:
    """First-column names of the LICENSES.md table rows that name an image file."""
    text = (RESOURCES / "LICENSES.md").read_text(encoding="utf-8")
    return re.findall(r"^\| *([^|\s]+\.(?:jpe?g|png)) *\|", text, re.M | re.I)


def test_every_sample_is_credited_and_every_credit_is_a_sample() -> None:
    credited = credited_files()
    assert len(credited) == len(set(credited)), "a file is listed twice in LICENSES.md"
    assert sorted(credited) == [p.name for p in sample_files()]


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
