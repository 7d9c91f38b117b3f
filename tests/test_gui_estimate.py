"""Before Start: the measured time per 1000 steps and for the whole run, kept per settings shape,
cancelled by Start; preset descriptions; the note on the classic recipe on a CPU."""

from __future__ import annotations

import threading
from pathlib import Path

from PySide6.QtCore import Qt

from engine.archs.table import ARCHITECTURES
from engine.training.config import PRESETS, TrainConfig
from engine.training.speed_probe import StepTimes
from gui.train.speed_estimate import measure
from gui.train.panel import TrainPanel
from tests.gui_helpers import (TINY_TRAINING, ScriptedJobs, isolated_settings, step_events, stop_and_wait,
                               write_images)


class FakeProbe:
    """Half a second per GAN step, a tenth per pixel step; remembers what it measured."""

    def __init__(self, block: bool = False) -> None:
        self.calls: list[TrainConfig] = []
        self.block = block
        self.cancelled = threading.Event()

    def __call__(self, config: TrainConfig, cancel: threading.Event) -> StepTimes | None:
        self.calls.append(config)
        if self.block:
            cancel.wait(30)
            self.cancelled.set()
            return None
        return StepTimes({"pretrain": 0.1, "gan": 0.5})


def make_panel(qtbot, tmp_path: Path, probe, jobs=None) -> TrainPanel:
    panel = TrainPanel(isolated_settings(tmp_path), runs_dir=tmp_path / "runs", speed_probe=probe,
                       job_factory=jobs or ScriptedJobs(lambda config, resume: []))
    qtbot.addWidget(panel, before_close_func=lambda w: stop_and_wait(qtbot, w))
    panel.show()
    return panel


def estimate(panel: TrainPanel) -> str:
    return panel.bar.estimate.text()


def test_estimate_per_thousand_steps_and_for_the_run_is_kept_per_settings_shape(qtbot, tmp_path: Path) -> None:
    probe = FakeProbe()
    panel = make_panel(qtbot, tmp_path, probe)
    qtbot.waitUntil(lambda: "per 1000 steps" in estimate(panel), timeout=10_000)
    assert estimate(panel).startswith("≈ 8:20 per 1000 steps, 25:00 for this run's 3000")  # 0.5 s a GAN step
    assert len(probe.calls) == 1
    panel.form.set_value("steps", 6000)  # the same step, a longer run: no new measurement
    assert "50:00 for this run's 6000" in estimate(panel) and len(probe.calls) == 1
    panel.form.set_value("batch_size", 4)  # another step shape: measured again
    assert "Measuring" in estimate(panel)
    qtbot.waitUntil(lambda: len(probe.calls) == 2 and "per 1000 steps" in estimate(panel), timeout=10_000)
    assert probe.calls[-1].batch_size == 4
    panel.form.set_value("batch_size", 0)  # back to the first shape: the kept figure, at once
    assert "50:00 for this run's 6000" in estimate(panel) and len(probe.calls) == 2


def test_start_cancels_a_measurement_and_the_run_waits_for_it(qtbot, tmp_path: Path) -> None:
    probe = FakeProbe(block=True)
    jobs = ScriptedJobs(lambda config, resume: step_events(1, 1, config.steps))
    panel = make_panel(qtbot, tmp_path, probe, jobs)
    panel.data_dir.setText(str(write_images(tmp_path / "data", 2)[0].parent))
    qtbot.waitUntil(lambda: len(probe.calls) == 1, timeout=10_000)
    qtbot.mouseClick(panel.start_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: panel.progress.value() == 1, timeout=10_000)
    assert probe.cancelled.is_set() and not panel.bar.estimate.isVisible()


def test_presets_are_described_and_classic_on_a_cpu_says_what_it_costs(qtbot, tmp_path: Path) -> None:
    panel = make_panel(qtbot, tmp_path, None)
    combo = panel.form.editor("preset")
    for index, name in enumerate(PRESETS):
        assert combo.itemData(index, Qt.ItemDataRole.ToolTipRole) == PRESETS[name].description
    assert panel.form.preset_description.text() == PRESETS["default"].description
    assert not panel.form.preset_note.isVisible()
    generators = panel.form.editor("generator")
    for index, name in enumerate(ARCHITECTURES):
        assert generators.itemData(index) == name
        assert generators.itemData(index, Qt.ItemDataRole.ToolTipRole) == ARCHITECTURES[name].description
    for name in ("classic", "classic-init"):
        combo.setCurrentIndex(combo.findData(name))
        combo.activated.emit(combo.currentIndex())  # as a pick from the list does
        assert panel.form.value("generator") == "classic"  # the preset's recipe is loaded
        assert panel.form.preset_description.text() == PRESETS[name].description
        assert panel.form.preset_note.isVisible() and "slow on a CPU" in panel.form.preset_note.text()
        assert panel.data_dir.text()  # the data folder is kept across presets
    combo.setCurrentIndex(combo.findData("finetune-photo"))
    combo.activated.emit(combo.currentIndex())
    assert panel.form.value("generator") == "esrgan" and panel.form.value("gen_blocks") == 23
    assert "esrgan generator is slow on a CPU" in panel.form.preset_note.text()
    combo.setCurrentIndex(combo.findData("scratch"))
    combo.activated.emit(combo.currentIndex())
    assert not panel.form.preset_note.isVisible() and panel.form.value("init_generator") == ""


def test_the_real_probe_measures_tiny_settings(qtbot, tmp_path: Path) -> None:
    panel = make_panel(qtbot, tmp_path, measure)
    for name, value in {**TINY_TRAINING, "pretrain_steps": 0, "steps": 100}.items():
        panel.form.set_value(name, value)
    qtbot.waitUntil(lambda: "per 1000 steps" in estimate(panel) or "Could not" in estimate(panel), timeout=60_000)
    assert "for this run's 100" in estimate(panel), estimate(panel)
