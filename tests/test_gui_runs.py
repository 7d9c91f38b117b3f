"""The Runs list: earlier runs listed from their checkpoints, one shown (curves and samples) without
resuming it, its folder opened, its model exported, and Resume continuing the selected run with its own
settings (shown in the form)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import QFileDialog, QMessageBox

from engine.errors import DataError
from engine.training.config import preset
from engine.training.run_folder import RunFolder
from engine.training.trainer import Trainer
from gui.train.panel import TrainPanel
from tests.gui_helpers import (TINY_TRAINING, ScriptedJobs, isolated_settings, step_events, stop_and_wait,
                               write_images)


def train(config, stop_at: int | None = None) -> None:
    trainer = Trainer(config)
    for event in trainer.run():
        if stop_at is not None and getattr(event, "step", 0) == stop_at:
            trainer.request_stop()


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> Path:
    """Two finished-for-now runs, made headless: 'stopped' (3 of 8 steps, lr_g 3e-4) and 'complete'."""
    base = tmp_path_factory.mktemp("runs-module")
    data = write_images(base / "data", 6)[0].parent
    tiny = {**TINY_TRAINING, "pretrain_steps": 0, "perceptual_weight": 0.0, "val_every": 2}
    train(preset("default", data_dir=str(data), out_dir=str(base / "runs" / "complete"), steps=2, **tiny))
    train(preset("scratch", data_dir=str(data), out_dir=str(base / "runs" / "stopped"), steps=8, lr_g=3e-4,
                 **tiny), stop_at=3)
    return base / "runs"


@pytest.fixture
def panel(qtbot, runs: Path, tmp_path: Path) -> tuple[TrainPanel, ScriptedJobs]:
    jobs = ScriptedJobs(lambda config, resume: step_events(4, 5, config.steps))
    widget = TrainPanel(isolated_settings(tmp_path), runs_dir=runs, job_factory=jobs, speed_probe=None)
    qtbot.addWidget(widget, before_close_func=lambda w: stop_and_wait(qtbot, w))
    widget.resize(1280, 800)
    widget.show()
    widget.left_tabs.setCurrentWidget(widget.runs)
    qtbot.waitUntil(lambda: widget.runs.tree.topLevelItemCount() == 2, timeout=30_000)
    return widget, jobs


def row(panel: TrainPanel, name: str) -> list[str]:
    tree = panel.runs.tree
    item = next(tree.topLevelItem(i) for i in range(tree.topLevelItemCount()) if tree.topLevelItem(i).text(0) == name)
    return [item.text(column) for column in range(tree.columnCount())]


def click_row(qtbot, panel: TrainPanel, name: str) -> None:
    tree = panel.runs.tree
    item = next(tree.topLevelItem(i) for i in range(tree.topLevelItemCount()) if tree.topLevelItem(i).text(0) == name)
    qtbot.mouseClick(tree.viewport(), Qt.MouseButton.LeftButton, pos=tree.visualItemRect(item).center())
    assert panel.runs.selected_path().name == name


def test_runs_are_listed_and_shown_without_resuming(qtbot, panel, runs: Path) -> None:
    panel, _ = panel
    name, kind, steps, best, saved = row(panel, "stopped")
    assert (kind, steps) == ("scratch", "3/8") and float(best) > 10 and saved.count(":") == 1
    assert row(panel, "complete")[1:3] == ["default", "2/2"]
    checkpoint = RunFolder(runs / "stopped").checkpoint
    before = checkpoint.stat().st_mtime_ns
    click_row(qtbot, panel, "stopped")
    panel.plots.redraw_all()
    x, y = panel.plots.curve("g_loss").getData()
    assert list(x) == [1, 2, 3] and np.isfinite(y).all()
    assert "Pixel pretraining" not in [marker[1] for marker in panel.plots.markers()]
    qtbot.waitUntil(lambda: panel.previews.shown_step() == 3, timeout=30_000)
    assert panel.previews.grid.crop_count() == 2
    assert not panel.is_running() and checkpoint.stat().st_mtime_ns == before
    assert panel.runs.path.text() == str(runs / "stopped")
    assert (panel.progress.value(), panel.progress.maximum()) == (3, 8)


def test_open_folder_asks_the_desktop(qtbot, panel, runs: Path, monkeypatch) -> None:
    panel, _ = panel
    opened = []
    monkeypatch.setattr(QDesktopServices, "openUrl", lambda url: opened.append(url.toLocalFile()) or True)
    click_row(qtbot, panel, "complete")
    qtbot.mouseClick(panel.runs.open_button, Qt.MouseButton.LeftButton)
    assert opened == [str(runs / "complete")]


def export_with_menu(qtbot, panel: TrainPanel, choice: int) -> None:
    """Click Export model…, then, once its menu shows, the menu's entry `choice`."""
    menu, chosen = panel.runs.export_menu, []
    poll = QTimer(interval=20)

    def pick() -> None:
        if menu.isVisible():
            poll.stop()
            chosen.append(menu.actions()[choice].text())
            menu.actions()[choice].trigger()
            menu.close()

    poll.timeout.connect(pick)
    poll.start()
    qtbot.mouseClick(panel.runs.export_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: bool(chosen))


def test_export_copies_a_model_and_asks_before_replacing(qtbot, panel, runs: Path, tmp_path: Path,
                                                          monkeypatch) -> None:
    panel, _ = panel
    target = tmp_path / "exported" / "mine.safetensors"
    target.parent.mkdir()
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *args, **kwargs: (str(target), ""))
    answers = []
    monkeypatch.setattr(QMessageBox, "question", lambda *args: answers.pop(0))
    click_row(qtbot, panel, "complete")
    export_with_menu(qtbot, panel, 0)
    labels = [action.text() for action in panel.runs.export_menu.actions()]
    assert labels[0].startswith("Best validation PSNR (step") and labels[1] == "Weights at the last stop (step 2)"
    assert target.read_bytes() == RunFolder(runs / "complete").best.read_bytes()
    assert "Exported to" in panel.runs.message.text()

    answers.append(QMessageBox.StandardButton.No)
    export_with_menu(qtbot, panel, 1)  # the weights at the last stop, over the same file: refused
    assert target.read_bytes() == RunFolder(runs / "complete").best.read_bytes() and not answers
    answers.append(QMessageBox.StandardButton.Yes)
    export_with_menu(qtbot, panel, 1)
    assert target.read_bytes() == RunFolder(runs / "complete").generator.read_bytes()
    assert [path.name for path in target.parent.iterdir()] == ["mine.safetensors"]  # no temporary left


def test_export_writes_the_format_picked_in_the_dialog(qtbot, panel, runs: Path, tmp_path: Path,
                                                        monkeypatch) -> None:
    panel, _ = panel
    picks = [(str(tmp_path / "mine"), "ncnn, for Upscayl: writes models/NAME-xSCALE.param and .bin (*.param)"),
             (str(tmp_path / "mine.onnx"), "ONNX, for onnxruntime and chaiNNer (*.onnx)")]
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *args, **kwargs: picks.pop(0))
    click_row(qtbot, panel, "complete")
    export_with_menu(qtbot, panel, 0)
    param = tmp_path / "models" / "mine-x4.param"
    assert param.is_file() and param.with_suffix(".bin").is_file()
    assert panel.runs.message.text() == f"Exported to {param}"
    export_with_menu(qtbot, panel, 0)
    assert (tmp_path / "mine.onnx").stat().st_size > 0


def test_resume_continues_the_selected_run_with_its_own_settings(qtbot, panel, runs: Path) -> None:
    panel, jobs = panel
    click_row(qtbot, panel, "complete")
    assert not panel.resume_button.isEnabled()  # nothing left to train
    click_row(qtbot, panel, "stopped")
    assert panel.resume_button.isEnabled()
    panel.form.editor("lr_g").setText("0.01")  # an edit that resuming could not honour
    qtbot.mouseClick(panel.resume_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: len(jobs.jobs) == 1)
    job = jobs.jobs[0]
    assert job.resume and job.config.out_dir == str(runs / "stopped") and job.config.lr_g == pytest.approx(3e-4)
    assert panel.form.value("lr_g") == pytest.approx(3e-4) and panel.form.value("preset") == "scratch"
    assert not panel.form.editor("lr_g").isEnabled()
    qtbot.waitUntil(lambda: panel.progress.value() == 5)
    assert row(panel, "stopped")[2] == "5/8"  # the list follows the running run


def test_a_run_picked_while_another_trains_is_shown_once_that_one_stops(qtbot, panel, runs: Path) -> None:
    panel, jobs = panel
    jobs.script = lambda config, resume: step_events(1, 40, config.steps)
    panel.data_dir.setText(str(runs.parent / "data"))
    qtbot.mouseClick(panel.start_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: panel.progress.value() == 40)
    click_row(qtbot, panel, "stopped")
    panel.plots.redraw_all()
    assert len(panel.plots.curve("g_loss").getData()[0]) == 40  # the view follows the run that trains
    qtbot.mouseClick(panel.stop_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not panel.is_running())
    qtbot.waitUntil(lambda: panel.view.shown == runs / "stopped", timeout=30_000)
    panel.plots.redraw_all()
    assert list(panel.plots.curve("g_loss").getData()[0]) == [1, 2, 3]


def test_a_start_that_fails_leaves_the_shown_run_and_resume_as_they_were(qtbot, panel, runs: Path) -> None:
    panel, jobs = panel
    click_row(qtbot, panel, "stopped")
    qtbot.waitUntil(lambda: panel.previews.shown_step() == 3, timeout=30_000)
    assert panel.resume_button.isEnabled()

    def refuse(config, resume):
        raise DataError(f"no readable images in {config.data_dir}")

    jobs.script = refuse
    panel.data_dir.setText(str(runs.parent / "data"))
    qtbot.mouseClick(panel.start_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not panel.is_running())
    assert panel.error.isVisible() and "no readable images" in panel.error.text()
    assert panel.status.text() == "Could not start"
    assert panel.view.shown == runs / "stopped" and panel.runs.selected_path() == runs / "stopped"
    assert panel.last_run == str(runs / "stopped") and panel.resume_button.isEnabled()
    panel.plots.redraw_all()
    assert list(panel.plots.curve("g_loss").getData()[0]) == [1, 2, 3]
    qtbot.waitUntil(lambda: panel.previews.shown_step() == 3, timeout=30_000)
    qtbot.waitUntil(lambda: panel.runs.tree.topLevelItemCount() == 2, timeout=30_000)  # no row for the failed one
    assert panel.runs.selected_path() == runs / "stopped"


def test_the_weights_a_run_started_from_are_not_offered_as_its_best(qtbot, tmp_path: Path, monkeypatch) -> None:
    data = write_images(tmp_path / "data", 6)[0].parent
    tiny = {**TINY_TRAINING, "pretrain_steps": 0, "perceptual_weight": 0.0, "val_every": 2}
    train(preset("default", data_dir=str(data), out_dir=str(tmp_path / "runs" / "first"), steps=8, **tiny),
          stop_at=1)  # validated at step 1 only: where it started
    widget = TrainPanel(isolated_settings(tmp_path), runs_dir=tmp_path / "runs", speed_probe=None)
    qtbot.addWidget(widget)
    widget.show()
    widget.left_tabs.setCurrentWidget(widget.runs)
    qtbot.waitUntil(lambda: widget.runs.tree.topLevelItemCount() == 1, timeout=30_000)
    click_row(qtbot, widget, "first")
    assert row(widget, "first")[3] == "–" and not RunFolder(tmp_path / "runs" / "first").best.exists()
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *args, **kwargs: ("", ""))  # then cancelled
    export_with_menu(qtbot, widget, 0)
    assert [action.text() for action in widget.runs.export_menu.actions()] == ["Weights at the last stop (step 1)"]
