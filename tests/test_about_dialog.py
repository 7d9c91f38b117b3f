"""Help > About shows what a bug report needs: the version, what torch runs on, where the bundled
models and the runs live, and the licences of the bundled photos and models."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialogButtonBox

from engine import __version__
from engine.resources import resource_path
from gui.common import about_dialog
from gui.common.about_dialog import AboutDialog
from gui.common.desktop_integration import APP_NAME
from gui.main_window import MainWindow
from gui.train.run_folders import default_runs_dir
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


@pytest.fixture
def named_app(qapp, tmp_path: Path, monkeypatch):
    """The application named as gui.app names it, with its data folder under tmp_path."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    names = qapp.organizationName(), qapp.applicationName()
    qapp.setOrganizationName(APP_NAME)
    qapp.setApplicationName(APP_NAME)
    yield tmp_path / "data"
    qapp.setOrganizationName(names[0])
    qapp.setApplicationName(names[1])


@pytest.mark.skipif(sys.platform != "linux", reason="XDG_DATA_HOME places the data folder on Linux")
def test_about_shows_the_runs_folder_with_the_app_name_once(qtbot, named_app: Path) -> None:
    window = MainWindow(isolated_settings(named_app))
    qtbot.addWidget(window)
    runs = named_app / APP_NAME / "runs"
    assert window.runs_dir == runs
    shown = open_about(qtbot, window).values["Runs folder"].text()
    assert str(runs) in shown and shown.count(APP_NAME) == 1


@pytest.mark.skipif(sys.platform != "linux", reason="XDG_DATA_HOME places the data folder on Linux")
def test_runs_kept_under_the_doubled_name_stay_where_they_are(named_app: Path) -> None:
    earlier = named_app / APP_NAME / APP_NAME / "runs"
    (earlier / "20260101-120000").mkdir(parents=True)
    assert default_runs_dir() == earlier
    (named_app / APP_NAME / "runs").mkdir()  # once the new folder exists, it is the one
    assert default_runs_dir() == named_app / APP_NAME / "runs"
