"""Shared fixtures: small generated images and tiny training settings that run in seconds on a CPU."""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from PIL import Image

# A bare `pytest` (not only `make test`) must not try to open windows on a display it may not have.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# Models converted to ncnn go to a cache of the test session's own (child processes inherit it), never
# to the user's: engine.user_cache.
_CACHE = tempfile.TemporaryDirectory(prefix="srgan-test-cache-")
os.environ["SRGAN_STUDIO_CACHE"] = _CACHE.name

from engine.training.config import TrainConfig, preset  # noqa: E402
from engine.training.perceptual import vgg_feature_stack  # noqa: E402

TINY_SETTINGS: dict[str, Any] = {
    "hr_patch": 32, "batch_size": 2, "gen_features": 8, "gen_blocks": 2, "disc_features": 8,
    "val_count": 2, "val_every": 2, "checkpoint_every": 2, "workers": 0, "device": "cpu", "init_generator": "",
    "val_seconds": 0,  # validations by steps only, however slow the machine
}


def write_test_images(folder: Path, count: int = 5, size: tuple[int, int] = (48, 56)) -> list[Path]:
    """Gradients with noise, alternating PNG and JPEG, so crops differ and both decoders run."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(len(str(folder)))
    paths = []
    for i in range(count):
        h, w = size[0] + 8 * i, size[1]
        y, x = np.mgrid[0:h, 0:w]
        rgb = np.stack([(x * 4 + 30 * i) % 256, (y * 3) % 256, ((x + y) * (i + 1)) % 256], axis=-1)
        rgb = np.clip(rgb + rng.integers(-16, 17, rgb.shape), 0, 255).astype(np.uint8)
        path = folder / f"image_{i:02d}.{'png' if i % 2 == 0 else 'jpg'}"
        Image.fromarray(rgb).save(path)
        paths.append(path)
    return paths


@pytest.fixture
def image_folder(tmp_path: Path) -> Path:
    """A folder of five small RGB images (48..80 x 56 pixels, PNG and JPEG)."""
    folder = tmp_path / "images"
    write_test_images(folder)
    return folder


@pytest.fixture
def tiny_config(image_folder: Path, tmp_path: Path) -> TrainConfig:
    """The default preset shrunk to a few seconds: 4 steps, 2 of them pretraining."""
    return preset("default", data_dir=str(image_folder), out_dir=str(tmp_path / "run"), steps=4,
                  pretrain_steps=2, **TINY_SETTINGS)


@pytest.fixture(autouse=True, scope="session")
def one_torch_thread() -> None:
    """Test tensors are tiny, and on a small shared CPU two threads spend more time waiting for each
    other than computing (measured: a classic-generator step took 4x longer with 2 threads than 1)."""
    torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def empty_torch_hub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty hub cache, so no test depends on VGG weights this machine may happen to have."""
    hub = tmp_path / "torch-hub"
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(hub))
    return hub


@pytest.fixture
def make_images() -> Callable[..., list[Path]]:
    """write_test_images, for tests that need other sizes or counts."""
    return write_test_images


@pytest.fixture
def thin_vgg16() -> torch.nn.Sequential:
    """A VGG16 feature stack 16x thinner than the real one: the real layout and layer names, trivial cost."""
    torch.manual_seed(0)
    return vgg_feature_stack("vgg16", width_divisor=16)


@pytest.fixture(scope="session")
def qapp(qapp_args: list[str], qapp_cls: type) -> Any:
    """pytest-qt's QApplication, with garbage collection moved to the GUI thread as the app does (a cycle
    collected on a job's thread destroys Qt objects there and crashes)."""
    from gui.common.gui_thread_gc import collect_on_gui_thread

    app = qapp_cls.instance() or qapp_cls(qapp_args)
    collect_on_gui_thread()
    return app


@pytest.fixture(autouse=True)
def collect_garbage_between_tests() -> Any:
    """With automatic collection off (once a Qt test ran), collect after each test on this thread, so the
    cycles of tests that never spin the event loop do not pile up. Without Qt (a GPU machine with no
    PySide6) nothing is imported."""
    yield
    gui_gc = sys.modules.get("gui.common.gui_thread_gc")  # loaded by the qapp fixture: only Qt tests move it
    if gui_gc is not None:
        gui_gc.collect_pending()


@pytest.fixture(autouse=True)
def quick_model_costs(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """The model picker times every model file the first time its list opens (about 15 s for the bundled
    Real-ESRGAN x4plus on a 2-core CPU): tests get a fixed figure, except those marked `real_cost`."""
    picker = sys.modules.get("gui.upscale.model_picker")
    if picker is not None and "real_cost" not in request.keywords:
        monkeypatch.setattr(picker, "seconds_per_megapixel", lambda source: 1.0)
