"""The progress figure puts LR (enlarged, pixels kept), SR and HR side by side, one row per image."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from engine.training.progress_figure import GAP, save_sample_figure


def test_figure_layout(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    lr = rng.integers(0, 256, (4, 4, 1), dtype=np.uint8)
    sr, hr = np.full((16, 16, 1), 100, np.uint8), np.full((16, 16, 1), 200, np.uint8)
    path = save_sample_figure(tmp_path / "samples" / "step_000001.png", [(lr, sr, hr), (lr, sr, hr)])
    figure = np.asarray(Image.open(path))
    assert figure.shape == (2 * 16 + 3 * GAP, 3 * 16 + 4 * GAP, 3)
    lr_panel = figure[GAP:GAP + 16, GAP:GAP + 16, 0]
    assert np.array_equal(lr_panel, np.kron(lr[..., 0], np.ones((4, 4), np.uint8)))  # nearest neighbour
    assert (figure[GAP:GAP + 16, 2 * GAP + 16:2 * GAP + 32] == 100).all()
    assert (figure[2 * GAP + 16:2 * GAP + 32, 3 * GAP + 32:3 * GAP + 48] == 200).all()
