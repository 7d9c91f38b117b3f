"""What a model costs here: measured on the real upscaler, keyed by what the figure depends on."""

from __future__ import annotations

import math
import os
from pathlib import Path

from engine.archs.networks import CompactGenerator
from engine.models.export import export_generator
from engine.upscaling.cost import cost_key, describe_cost, seconds_per_megapixel


def _model(path: Path, features: int) -> Path:
    net = CompactGenerator(3, features, 2, 4)
    return export_generator(path, net.state_dict(), net.spec(), net.value_range)


def test_a_wider_network_measures_slower_per_megapixel(tmp_path: Path) -> None:
    narrow = seconds_per_megapixel(_model(tmp_path / "narrow.safetensors", 4), device="cpu")
    wide = seconds_per_megapixel(_model(tmp_path / "wide.safetensors", 48), device="cpu")
    assert math.isfinite(narrow) and narrow > 0
    assert wide > narrow  # 144x the convolution work: timing noise cannot swap them


def test_the_key_changes_with_the_file(tmp_path: Path) -> None:
    path = _model(tmp_path / "m.safetensors", 4)
    before = cost_key(path, "cpu")
    assert before == cost_key(path, "cpu") and str(path.resolve()) in before
    os.utime(path, ns=(1, 1))
    assert cost_key(path, "cpu") != before
    assert cost_key(path, "cpu", "torch") != cost_key(path, "cpu", "ncnn")  # each engine is timed on its own


def test_described_with_the_precision_a_person_reads() -> None:
    assert describe_cost(0.05) == "under 0.1 s per output megapixel here"
    assert describe_cost(2.345) == "about 2.3 s per output megapixel here"
    assert describe_cost(52.4) == "about 52 s per output megapixel here"
