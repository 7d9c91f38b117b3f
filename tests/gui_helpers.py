"""Shared fixtures' helpers for the GUI tests: tiny images, tiny training settings, an isolated
QSettings file, and scripted stand-in trainers for tests of the window's own state."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
from PIL import Image
from PySide6.QtCore import QSettings, Qt

from engine import events as ev

TINY_TRAINING = {"hr_patch": 32, "batch_size": 2, "gen_features": 8, "gen_blocks": 2, "disc_features": 8,
                 "pretrain_steps": 2, "val_every": 3, "val_seconds": 0, "val_count": 2, "vgg_weights": "", "checkpoint_every": 1000,
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


def click(qtbot, button) -> None:
    """A left click on an enabled button, as a person would."""
    assert button.isEnabled(), f"{button.text()} is disabled"
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


def stop_and_wait(qtbot, panel) -> None:
    """End a panel's run (if any) before the test's widgets go."""
    if panel.is_running():
        panel.stop()
        qtbot.waitUntil(lambda: not panel.is_running(), timeout=60_000)


def configure(panel, data_dir: Path, **changes) -> None:
    """Type tiny settings into the real form, as a user would."""
    panel.data_dir.setText(str(data_dir))
    for name, value in {**TINY_TRAINING, **changes}.items():
        panel.form.set_value(name, value)


class ScriptedJob:
    """A stand-in trainer for the window's state tests: yields its events, then holds (as a run that is
    still training) until asked to stop, then finishes like the real one. Records what it was asked."""

    def __init__(self, config, resume: bool, events: list, hold: bool = True) -> None:
        self.config, self.resume, self.events, self.hold = config, resume, events, hold
        self.stopped = threading.Event()
        self.checkpoints_requested = 0

    def run(self):
        yield from self.events
        if self.hold:
            self.stopped.wait(60)
        last = max((getattr(event, "step", 0) for event in self.events), default=0)
        yield ev.Finished(step=last, reason="stopped" if self.stopped.is_set() else "completed", message="",
                          export_path=None, checkpoint_path=None)

    def request_stop(self) -> None:
        self.stopped.set()

    def request_checkpoint(self) -> None:
        self.checkpoints_requested += 1


def step_events(first: int, last: int, total: int, phase: str = "gan", d_loss: float = 0.69) -> list:
    """StepMetrics for steps first..last of a run of `total` steps."""
    return [ev.StepMetrics(step=step, total_steps=total, phase=phase,
                           losses={"d_loss": d_loss, "g_loss": 1.0 / step, "g_pixel": 0.1, "g_adversarial": 0.7},
                           d_real=0.6, d_fake=0.4, lr_g=1e-4, lr_d=1e-4, steps_per_s=2.0, eta_s=(total - step) / 2.0)
            for step in range(first, last + 1)]


class ScriptedJobs:
    """A job factory whose jobs play `script(config, resume)`; `jobs` keeps every job made."""

    def __init__(self, script, hold: bool = True) -> None:
        self.script, self.hold = script, hold
        self.jobs: list[ScriptedJob] = []

    def __call__(self, config, resume: bool) -> ScriptedJob:
        job = ScriptedJob(config, resume, list(self.script(config, resume)), self.hold)
        self.jobs.append(job)
        return job
