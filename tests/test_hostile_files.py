"""Files that are not plain image data: PostScript (which Pillow would hand to Ghostscript to run) and
FIFOs, devices and sockets (which would block a reader forever) are never decoded, as inputs, in folders
the upscaler searches, or in training folders. Run in a child process with a time limit: a regression hangs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from engine.archs.networks import CompactGenerator
from engine.data.dataset import TrainingData
from engine.io.images import ImageReadError, has_image_extension, is_image_file, read_image
from engine.models.export import export_generator
from engine.training.config import preset
from tests.conftest import TINY_SETTINGS, write_test_images

ROOT = Path(__file__).resolve().parent.parent
# A valid EPS whose program never ends: Ghostscript would loop forever on it.
LOOPING_EPS = b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\n{ } loop\nshowpage\n%%EOF\n"


def test_postscript_is_never_decoded(tmp_path: Path) -> None:
    for name in ("loop.eps", "loop.png"):
        (tmp_path / name).write_bytes(LOOPING_EPS)
        with pytest.raises(ImageReadError, match="not an image file, or in a format this app cannot open"):
            read_image(tmp_path / name)
        assert not is_image_file(tmp_path / name)
    assert not has_image_extension("a.eps") and has_image_extension("a.PNG") and has_image_extension("a.tif")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="POSIX FIFOs")
def test_a_fifo_is_refused_without_being_opened(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe.png")
    with pytest.raises(ImageReadError, match=r"pipe.png is a named pipe \(FIFO\), not an image file"):
        read_image(tmp_path / "pipe.png")
    assert not is_image_file(tmp_path / "pipe.png")
    with pytest.raises(ImageReadError, match="is a device"):
        read_image("/dev/zero")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="POSIX FIFOs")
def test_upscale_neither_hangs_nor_runs_postscript(tmp_path: Path) -> None:
    """Explicit inputs and a searched folder: each bad file is one failed line, the good image is done."""
    folder = tmp_path / "photos"
    write_test_images(folder, count=1)
    (folder / "loop.eps").write_bytes(LOOPING_EPS)
    (folder / "renamed.png").write_bytes(LOOPING_EPS)
    os.mkfifo(folder / "pipe.png")
    os.mkfifo(folder / "pipe")
    (tmp_path / "given.eps").write_bytes(LOOPING_EPS)
    os.mkfifo(tmp_path / "given_pipe")
    net = CompactGenerator(3, 8, 2, 4)
    model = export_generator(tmp_path / "tiny.safetensors", net.state_dict(), net.spec(), net.value_range)
    done = subprocess.run([sys.executable, "-m", "engine", "upscale", str(folder), str(tmp_path / "given.eps"),
                           str(tmp_path / "given_pipe"), "--model", str(model), "--out", str(tmp_path / "out")],
                          capture_output=True, text=True, timeout=120, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 1 and "Traceback" not in done.stderr
    failed = sorted(line.split(": ")[1] for line in done.stderr.splitlines() if line.startswith("failed: "))
    assert failed == sorted(str(path) for path in (folder / "pipe.png", folder / "renamed.png",
                                                    tmp_path / "given.eps", tmp_path / "given_pipe"))
    assert "upscaled 1 image(s), 4 failed" in done.stdout
    assert [path.name for path in (tmp_path / "out").iterdir()] == ["image_00_tiny_x4.png"]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="POSIX FIFOs")
def test_training_folders_skip_postscript_and_fifos(tmp_path: Path) -> None:
    folder = tmp_path / "data"
    write_test_images(folder)
    (folder / "loop.eps").write_bytes(LOOPING_EPS)
    (folder / "renamed.png").write_bytes(LOOPING_EPS)
    os.mkfifo(folder / "pipe.png")
    config = preset("default", data_dir=str(folder), out_dir=str(tmp_path / "run"), **TINY_SETTINGS)
    data = TrainingData.load(config)
    assert len(data.train.images) + len(data.val.images) == 5
    assert [message.split(": ")[0] for message in data.skipped] == [f"skipped {folder / 'renamed.png'}"]


@pytest.mark.parametrize(("change", "message"), [
    ({"scale": 0}, "the stored compact architecture upscales x0; it can only be x2 or x3 or x4"),
    ({"in_channels": 2}, "takes 2 input channels; it can only take 1 or 3"),
    ({"num_conv": 10**7}, "has num_conv=10000000; it must be 0 to 256"),
    ({"num_feat": 10**9}, "has num_feat=1000000000; it must be 1 to 1024"),
    ({"num_feat": "wide"}, "has num_feat='wide', not a whole number"),
])
def test_a_model_file_whose_stored_architecture_cannot_be_built_is_refused(
        tmp_path: Path, change: dict, message: str, capsys: pytest.CaptureFixture[str]) -> None:
    """Checked before anything is allocated: upscale and eval exit 2 with one line, no traceback."""
    from engine.cli.main import main

    net = CompactGenerator(3, 8, 2, 4)
    model = export_generator(tmp_path / "odd.safetensors", net.state_dict(), {**net.spec(), **change},
                             net.value_range)
    write_test_images(tmp_path / "in", count=1)
    assert main(["upscale", str(tmp_path / "in"), "--model", str(model), "--out", str(tmp_path / "out")]) == 2
    assert main(["eval", "--model", str(model), "--data", str(tmp_path / "in")]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 2 and all(line.startswith("error: ") and message in line for line in lines)
