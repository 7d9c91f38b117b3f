"""The whole window: closing mid-training stops the run, keeps its checkpoint, and never aborts;
the theme toggle switches palettes; the Upscale tab follows the current run."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtGui import QPalette

from gui.main_window import MainWindow
from engine.training.run_folder import CHECKPOINT
from gui.common.theme import DARK, LIGHT
from tests.gui_helpers import configure, isolated_settings, write_images


def test_close_during_training_stops_waits_and_keeps_checkpoint(qtbot, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch-home"))
    window = MainWindow(isolated_settings(tmp_path), runs_dir=tmp_path / "runs")
    qtbot.addWidget(window)
    window.show()
    configure(window.train, write_images(tmp_path / "data", 6)[0].parent, steps=500)
    assert window.train.start()
    qtbot.waitUntil(lambda: window.train.progress.value() >= 3, timeout=60_000)
    assert not window.close()  # refused for now: the run is asked to stop first
    assert window.isVisible()
    qtbot.waitUntil(lambda: not window.isVisible(), timeout=60_000)
    assert not window.train.is_running()
    assert (Path(window.train.last_run) / CHECKPOINT).is_file()
    assert window.train.status.text().startswith("Stopped")


def test_theme_toggle_and_run_models(qtbot, tmp_path: Path) -> None:
    settings = isolated_settings(tmp_path)
    window = MainWindow(settings, runs_dir=tmp_path / "runs")
    qtbot.addWidget(window)
    window.theme_actions["dark"].trigger()
    assert window.palette().color(QPalette.ColorRole.Window).name() == DARK.window
    window.theme_actions["light"].trigger()
    assert window.palette().color(QPalette.ColorRole.Window).name() == LIGHT.window
    assert settings.value("view/theme") == "light"
    window.train.run_dir_changed.emit(str(tmp_path / "runs" / "r1"))
    labels = [window.upscale.model.itemText(i) for i in range(window.upscale.model.count())]
    assert {"Current run: raw", "Current run: best", "Current run: EMA"} <= set(labels)
