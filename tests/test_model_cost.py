"""What a model costs here: measured on the real upscaler, keyed by what the figure depends on."""

from __future__ import annotations

import math
import os
from pathlib import Path

import json

import pytest

from engine.archs.networks import CompactGenerator
from engine.models.export import export_generator
from engine.upscaling import backends, cost, cpu_engine
from engine.upscaling.backend import OptionsError
from engine.upscaling.backends import open_backend
from engine.upscaling.cost import cost_key, describe_cost, seconds_per_megapixel
from engine.upscaling.ncnn_backend import NcnnBackend
from engine.upscaling.torch_backend import TorchBackend


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


@pytest.fixture
def on_a_cpu(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No GPU for either engine, and an empty cache folder of its own (where the timings are recorded)."""
    monkeypatch.setattr(backends, "torch_gpu_available", lambda: False)
    monkeypatch.setattr(backends, "_vulkan_index", lambda kind, index: index if kind == "vulkan" else None)
    monkeypatch.setenv("SRGAN_STUDIO_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache" / cpu_engine.RECORDS


def test_auto_on_a_cpu_runs_the_engine_timed_faster_here(tmp_path: Path, on_a_cpu: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    path = _model(tmp_path / "m.safetensors", 4)
    assert isinstance(open_backend(path).backend, NcnnBackend)  # not timed yet: ncnn
    timed_with = []

    def timed(source: Path, engine: str, device: str, tiled: bool = False, winograd63: bool | None = None) -> float:
        timed_with.append(winograd63)
        return timings[engine]

    monkeypatch.setattr(cost, "_timed", timed)
    for torch_s, ncnn_s, f63 in ((1.0, 2.0, True), (2.0, 1.0, False), (1.0, 1.05, None), (0.9, 1.0, False)):
        monkeypatch.setattr(cost, "faster_winograd63", lambda source, f=f63: f)
        timings, timed_with = {"torch": torch_s, "ncnn": ncnn_s}, []
        faster = "torch" if torch_s * cpu_engine.TORCH_MARGIN < ncnn_s else "ncnn"  # PyTorch by 10%, or ncnn
        assert seconds_per_megapixel(path) == timings[faster]  # the cost of what auto runs
        assert cpu_engine.recorded_run(path) == cpu_engine.CpuRun(faster, f63 is not False)
        assert set(timed_with) == {f63 is not False}  # ncnn (and PyTorch, which ignores it) its faster way
        assert isinstance(open_backend(path).backend, TorchBackend if faster == "torch" else NcnnBackend)
        by_name = open_backend(path, "ncnn").backend  # asked for by name: ncnn, the way timed faster
        assert isinstance(by_name, NcnnBackend) and by_name.winograd63 == (f63 is not False)
    record = next(iter(json.loads(on_a_cpu.read_text(encoding="utf-8")).values()))
    assert record["seconds_per_output_mp"] == {"torch": 0.9, "ncnn": 1.0}
    assert record["cpu"] == cpu_engine.cpu_name() and record["ncnn_winograd63"] is False
    _model(path, 8)  # other weights in the same file: timed again before auto follows a record
    assert cpu_engine.recorded_run(path) is None and isinstance(open_backend(path).backend, NcnnBackend)


def test_ncnn_s_winograd_way_is_timed_only_where_it_changes_the_kernels(tmp_path: Path) -> None:
    """ncnn picks Winograd F(6,3) for 32-channel convolutions and runs the same kernels either way at 64:
    the narrow model gets a timed answer, the wide one none (and a model ncnn cannot run none)."""
    narrow, wide = _model(tmp_path / "narrow.safetensors", 32), _model(tmp_path / "wide.safetensors", 64)
    assert isinstance(cost.faster_winograd63(narrow), bool)
    assert cost.faster_winograd63(wide) is None


def test_both_engines_are_really_timed_and_ncnn_missing_means_pytorch(tmp_path: Path, on_a_cpu: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cost, "PROBE_SECONDS", 0.02)  # runs of a few milliseconds: real, and quick
    narrow, wide = _model(tmp_path / "narrow.safetensors", 32), _model(tmp_path / "wide.safetensors", 64)
    for path in (narrow, wide):
        seconds_per_megapixel(path)
    records = {record["model"]: record for record in json.loads(on_a_cpu.read_text(encoding="utf-8")).values()}
    assert all(set(record["seconds_per_output_mp"]) == {"torch", "ncnn"} for record in records.values())
    assert all(0 < value < 60 for record in records.values() for value in record["seconds_per_output_mp"].values())
    # ncnn's Winograd way is kept where it changes the kernels (32 channels), not at 64
    assert isinstance(records["narrow.safetensors"]["ncnn_winograd63"], bool)
    assert "ncnn_winograd63" not in records["wide.safetensors"]
    real = cost._timed

    def no_ncnn(source: Path, engine: str, device: str, tiled: bool = False, winograd63: bool | None = None) -> float:
        if engine == "ncnn":
            raise OptionsError("the ncnn package is not installed")
        return real(source, engine, device, tiled, winograd63)

    monkeypatch.setattr(cost, "_timed", no_ncnn)
    other = _model(tmp_path / "other.safetensors", 8)
    seconds_per_megapixel(other)
    assert cpu_engine.recorded_run(other) == cpu_engine.CpuRun("torch")


def test_an_unwritable_cache_folder_records_nothing_and_auto_stays_with_ncnn(tmp_path: Path, on_a_cpu: Path,
                                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "a file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("SRGAN_STUDIO_CACHE", str(blocker / "cache"))
    path = _model(tmp_path / "m.safetensors", 4)
    monkeypatch.setattr(cost, "_timed", lambda source, engine, device, tiled=False, winograd63=None:
                        {"torch": 1.0, "ncnn": 2.0}[engine])
    assert seconds_per_megapixel(path) == 1.0
    assert cpu_engine.recorded_run(path) is None


def test_the_command_line_times_both_engines_and_auto_follows(tmp_path: Path, on_a_cpu: Path,
                                                              monkeypatch: pytest.MonkeyPatch,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    from PIL import Image

    from engine.cli.main import main

    path = _model(tmp_path / "m.safetensors", 4)
    Image.new("RGB", (12, 10), (90, 120, 30)).save(tmp_path / "in.png")
    monkeypatch.setattr(cost, "faster_winograd63", lambda source: False)
    monkeypatch.setattr(cost, "_timed", lambda source, engine, device, tiled=False, winograd63=None:
                        {"torch": 1.0, "ncnn": 3.0}[engine])
    args = ["upscale", str(tmp_path / "in.png"), "--model", str(path), "--out", str(tmp_path / "out")]
    assert main([*args, "--time-engines"]) == 0
    err = capsys.readouterr().err
    assert "torch 1.00 s, ncnn 3.00 s; auto runs torch here from now on" in err and "in PyTorch on" in err
    assert main([*args, "--overwrite"]) == 0 and "in PyTorch on" in capsys.readouterr().err  # the record stays
    assert main(["upscale", str(tmp_path / "in.png"), "--model", str(tmp_path / "none.pth"), "--time-engines"]) == 2
    assert "model not found" in capsys.readouterr().err
