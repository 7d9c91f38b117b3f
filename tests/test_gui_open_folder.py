"""Open folder (a saved result's row in the Upscale tab, a run in the Runs list) says where the folder is
when no file manager opens it, in a line whose path can be selected and copied, instead of failing silently."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import QObject, Qt, QUrl, Slot
from PySide6.QtGui import QDesktopServices

from gui.train.run_list import RunList
from tests.gui_helpers import click, isolated_settings, write_images
from tests.upscale_helpers import TIMEOUT_MS, drop, make_panel, tiny_model, wait_idle


class FileManager(QObject):
    """A registered handler for file URLs, as a desktop's file manager is."""

    def __init__(self) -> None:
        super().__init__()
        self.opened: list[str] = []

    @Slot(QUrl)
    def show(self, url: QUrl) -> None:
        self.opened.append(url.toLocalFile())


@pytest.fixture
def file_manager():
    handler = FileManager()
    QDesktopServices.setUrlHandler("file", handler, "show")
    yield handler
    QDesktopServices.unsetUrlHandler("file")


def copyable(label) -> bool:
    return bool(label.textInteractionFlags() & Qt.TextInteractionFlag.TextSelectableByMouse)


def saved_row(qtbot, tmp_path: Path):
    panel = make_panel(qtbot, tmp_path, tiny_model(tmp_path / "tiny.safetensors"))
    [image] = write_images(tmp_path / "in", 1, size=24)
    with qtbot.waitSignal(panel.runner.entry_done, timeout=TIMEOUT_MS):
        drop(panel.drop_zone, [image])
    wait_idle(qtbot, panel)
    click(qtbot, panel.save_all_button)
    entry = panel.queue.entries[0]
    qtbot.waitUntil(lambda: entry.saved_to is not None and not panel.is_running(), timeout=TIMEOUT_MS)
    return panel, panel.queue.row_widget(entry).open_folder


def test_upscale_open_folder_without_a_file_manager_names_the_folder(qtbot, tmp_path: Path) -> None:
    panel, button = saved_row(qtbot, tmp_path)  # the offscreen platform has no file manager
    click(qtbot, button)
    assert panel.message.isVisible() and panel.message.text().endswith(str(tmp_path / "out"))
    assert "No file manager" in panel.message.text() and copyable(panel.message)


def test_upscale_open_folder_with_a_file_manager_says_nothing(qtbot, tmp_path: Path, file_manager) -> None:
    panel, button = saved_row(qtbot, tmp_path)
    click(qtbot, button)
    assert file_manager.opened == [str(tmp_path / "out")] and not panel.message.isVisible()


def test_run_list_open_folder_without_a_file_manager_names_the_folder(qtbot, tmp_path: Path) -> None:
    run = tmp_path / "runs" / "r1"
    run.mkdir(parents=True)
    runs = RunList(tmp_path / "runs", isolated_settings(tmp_path))
    qtbot.addWidget(runs)
    runs.show_live(run, "default", 0, 10)
    runs.select(run)
    click(qtbot, runs.open_button)
    assert runs.message.text().endswith(str(run)) and copyable(runs.message)
