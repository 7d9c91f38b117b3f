"""Shared fixtures' helpers for the GUI tests: tiny images, tiny training settings, an isolated
QSettings file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image
from PySide6.QtCore import QSettings

TINY_TRAINING = {"hr_patch": 32, "batch_size": 2, "gen_features": 8, "gen_blocks": 2, "disc_features": 8,
                 "pretrain_steps": 2, "val_every": 3, "val_count": 2, "vgg_weights": "", "checkpoint_every": 1000,
                 "workers": 0, "device": "cpu", "discriminator": "vgg", "init_generator": ""}


def write_images(folder: Path, count: int, size: int = 64, seed: int = 0) -> list[Path]:
    """Smooth random pictures (gradients plus noise) so crops differ and losses are finite."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    ramp = np.linspace(0, 1, size)
    paths = []
    for i in range(count):
        base = np.stack([np.add.outer(ramp * rng.uniform(), ramp * rng.uniform()) for _ in range(3)], axis=-1)
        pixels = np.clip(base * 120 + rng.normal(0, 20, base.shape), 0, 255).astype(np.uint8)
        path = folder / f"img{i}.png"
        Image.fromarray(pixels).save(path)
        paths.append(path)
    return paths


def isolated_settings(tmp_path: Path) -> QSettings:
    return QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)


def configure(panel, data_dir: Path, **changes) -> None:
    """Type tiny settings into the real form, as a user would."""
    panel.data_dir.setText(str(data_dir))
    for name, value in {**TINY_TRAINING, **changes}.items():
        panel.form.set_value(name, value)
