"""The progress figure: fixed LR inputs next to the network's outputs and the originals, one row
per validation image, so improvement is visible by flipping through the saved steps."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from engine.io.atomic import atomic_write

GAP = 4  # pixels between panels


def _rgb(image: np.ndarray) -> Image.Image:
    return Image.fromarray(image[..., 0] if image.shape[2] == 1 else image).convert("RGB")


def sample_figure(rows: list[tuple[np.ndarray, np.ndarray, np.ndarray]]) -> Image.Image:
    """Rows of (LR, SR, HR) uint8 HxWxC images; LR is shown enlarged with nearest neighbour so its
    pixels stay honest."""
    width = max(sr.shape[1] for _, sr, _ in rows) * 3 + GAP * 4
    height = sum(sr.shape[0] for _, sr, _ in rows) + GAP * (len(rows) + 1)
    figure = Image.new("RGB", (width, height), "white")
    top = GAP
    for lr, sr, hr in rows:
        size = (sr.shape[1], sr.shape[0])
        panels = [_rgb(lr).resize(size, Image.Resampling.NEAREST), _rgb(sr), _rgb(hr)]
        for column, panel in enumerate(panels):
            figure.paste(panel, (GAP + column * (size[0] + GAP), top))
        top += size[1] + GAP
    return figure


def save_sample_figure(path: Path, rows: list[tuple[np.ndarray, np.ndarray, np.ndarray]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    figure = sample_figure(rows)
    return atomic_write(path, lambda tmp: figure.save(tmp, format="PNG"))
