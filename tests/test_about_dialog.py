"""Help > About shows what a bug report needs: the version, what torch runs on, where the bundled
models and the runs live, and the licences of the bundled photos and models."""

from __future__ import annotations

from pathlib import Path

import torch
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialogButtonBox

from engine import __version__
from engine.resources import resource_path
from gui.common import about_dialog
from gui.common.about_dialog import AboutDialog
from gui.main_window import MainWindow
from tests.gui_helpers import isolated_settings


def open_about(qtbot, window: MainWindow) -> AboutDialog:
    help_menu = next(action.menu() for action in window.menuBar().actions() if action.text() == "&Help")
    assert window.about_action in help_menu.actions()
    window.about_action.trigger()
    qtbot.waitUntil(lambda: window.findChild(AboutDialog) is not None and window.findChild(AboutDialog).isVisible())
    return window.findChild(AboutDialog)


def test_about_box_shows_version_backends_folders_and_bundled_licences(qtbot, tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    runs.mkdir()
    settings = isolated_settings(tmp_path)
    window = MainWindow(settings, runs_dir=runs)
    qtbot.addWidget(window)
    dialog = open_about(qtbot, window)
    assert dialog.windowTitle() == "About SRGAN Studio"
    shown = {name: label.text() for name, label in dialog.values.items()}
    assert shown["Version"] == __version__
    assert shown["PyTorch"] == torch.__version__
    assert shown["CUDA"].startswith("available" if torch.cuda.is_available() else ("not available", "not built"))
    assert "Apple MPS" in shown and shown["Default device"]
    models_dir = resource_path("models")
    assert f'href="{models_dir.as_uri()}"' in shown["Bundled models"]
    assert "default-x4" in shown["Bundled models"]
    assert f'href="{runs.as_uri()}"' in shown["Runs folder"]
    assert shown["Settings"] == settings.fileName()
    licences = dialog.licences.toPlainText()
    for sample in sorted(resource_path("samples").glob("*.jpg")):
        assert sample.name in licences
    assert "CC-BY-SA-4.0" in licences and "Shipped models" in licences

    close = dialog.findChild(QDialogButtonBox).button(QDialogButtonBox.StandardButton.Close)
    qtbot.mouseClick(close, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.findChild(AboutDialog) is None)  # deleted on close, not piled up


def test_about_box_names_a_missing_runs_folder_and_licence_file_without_failing(qtbot, tmp_path: Path,
                                                                                monkeypatch) -> None:
    monkeypatch.setattr(about_dialog, "LICENCES_FILE", tmp_path / "LICENSES.md")
    runs = tmp_path / "not yet created"
    dialog = AboutDialog(runs, "")
    qtbot.addWidget(dialog)
    assert dialog.values["Runs folder"].text() == str(runs)  # no link to a folder that is not there
    assert dialog.licences.toPlainText().startswith(f"The licence list {tmp_path / 'LICENSES.md'} cannot be read")
