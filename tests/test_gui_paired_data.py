"""The Train tab's data fields: the line under them says what the folders hold (images, or pairs and their
scale) or, in the error colour, why training would refuse them."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from gui.train.panel import TrainPanel
from tests.gui_helpers import isolated_settings, stop_and_wait
from tests.test_paired_data import write_pair, write_pairs


@pytest.fixture
def panel(qtbot, tmp_path: Path) -> TrainPanel:
    widget = TrainPanel(isolated_settings(tmp_path), runs_dir=tmp_path / "runs", speed_probe=None)
    qtbot.addWidget(widget, before_close_func=lambda w: stop_and_wait(qtbot, w))
    widget.show()
    return widget


def shows(panel: TrainPanel, text: str) -> bool:
    return text in panel.form.data_summary.text()


def test_the_data_line_says_what_the_folders_hold(qtbot, panel: TrainPanel, tmp_path: Path) -> None:
    hr_dir, lr_dir = write_pairs(tmp_path / "set", 5)
    summary = panel.form.data_summary
    panel.data_dir.line.clear()
    qtbot.keyClicks(panel.data_dir.line, str(hr_dir))
    qtbot.waitUntil(lambda: shows(panel, "5 images (HR only"), timeout=5000)
    assert summary.property("role") == "muted"

    lr_field = panel.form.editor("lr_dir")
    qtbot.keyClicks(lr_field.line, str(lr_dir))
    qtbot.waitUntil(lambda: shows(panel, "5 pairs HR+LR, x4"), timeout=5000)
    assert "degradation setting is not used" in summary.text() and summary.isVisible()
    assert panel.current_config().lr_dir == str(lr_dir)

    scale = panel.form.editor("scale")
    scale.setCurrentIndex(scale.findData(2))
    qtbot.waitUntil(lambda: shows(panel, "the pairs are x4"), timeout=5000)
    assert "set the scale to 4" in summary.text() and summary.property("role") == "error"
    scale.setCurrentIndex(scale.findData(4))

    (lr_dir / "p03.png").unlink()
    lr_field.line.selectAll()
    qtbot.keyClick(lr_field.line, Qt.Key.Key_Backspace)
    qtbot.keyClicks(lr_field.line, str(lr_dir) + "/")
    qtbot.waitUntil(lambda: shows(panel, "1 HR image has no LR partner"), timeout=5000)
    assert "p03.png" in summary.text() and summary.property("role") == "error"

    write_pair(hr_dir, lr_dir, "p03.png", seed=3)
    lr_field.setText("")
    panel.data_dir.setText(str(tmp_path / "set"))  # a folder holding hr/ and lr/ needs no LR field
    qtbot.waitUntil(lambda: shows(panel, "5 pairs HR+LR in hr/ + lr/, x4"), timeout=5000)
    assert summary.property("role") == "muted"
    panel.data_dir.setText(str(tmp_path / "nowhere"))
    qtbot.waitUntil(lambda: shows(panel, "does not exist"), timeout=5000)


def test_the_data_line_counts_only_readable_images(qtbot, panel: TrainPanel, tmp_path: Path) -> None:
    folder = tmp_path / "unreadable"
    folder.mkdir()
    for name in ("a.png", "b.jpg"):
        (folder / name).write_bytes(b"not a picture")
    panel.data_dir.line.clear()
    qtbot.keyClicks(panel.data_dir.line, str(folder))
    qtbot.waitUntil(lambda: shows(panel, "no readable images"), timeout=5000)
    assert "2 unreadable files (a.png, b.jpg)" in panel.form.data_summary.text()
    assert panel.form.data_summary.property("role") == "error"
    write_pairs(folder, 2)  # two readable images beside them, in hr/
    qtbot.keyClicks(panel.data_dir.line, "/hr")
    qtbot.waitUntil(lambda: shows(panel, "2 images (HR only"), timeout=5000)
    (folder / "hr" / "c.png").write_bytes(b"")
    panel.data_dir.setText(str(folder))  # the surveys of both folders are of what they hold now
    panel.data_dir.setText(str(folder / "hr"))
    qtbot.waitUntil(lambda: shows(panel, "1 unreadable file (c.png) skipped"), timeout=5000)
    assert panel.form.data_summary.text().startswith("2 images") and panel.form.data_summary.property("role") == "muted"
