"""The Upscale tab with the real upscaler and a tiny exported model: drops, bad files, queueing
during a batch, paste, model errors, the before/after view and saving without overwriting."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QMimeData, QPoint, QPointF, QSize, Qt, QUrl
from PySide6.QtGui import QColor, QDragEnterEvent, QDropEvent, QGuiApplication, QImage
from PySide6.QtWidgets import QApplication, QFileDialog, QMessageBox

from engine.archs import CompactGenerator
from engine.export import export_generator
from gui.upscale_panel import UpscalePanel
from gui.upscale_queue import State
from tests.gui_helpers import write_images


@pytest.fixture
def tiny_model(tmp_path: Path) -> Path:
    net = CompactGenerator(3, 8, 2, 4)
    return export_generator(tmp_path / "tiny.safetensors", net.state_dict(), net.spec(), net.value_range)


@pytest.fixture
def panel(qtbot, tiny_model: Path) -> UpscalePanel:
    widget = UpscalePanel()
    qtbot.addWidget(widget, before_close_func=lambda w: qtbot.waitUntil(lambda: not w.is_running(), timeout=30_000))
    widget.model.add_model_file(tiny_model)
    widget.resize(1100, 700)
    widget.show()
    return widget


def drop(widget, paths: list[Path]) -> None:
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    buttons, modifiers = Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
    enter = QDragEnterEvent(QPoint(10, 10), Qt.DropAction.CopyAction, mime, buttons, modifiers)
    QApplication.sendEvent(widget, enter)  # Qt delivers a drop only after an accepted drag-enter
    assert enter.isAccepted()
    QApplication.sendEvent(widget, QDropEvent(QPointF(10, 10), Qt.DropAction.CopyAction, mime, buttons, modifiers))


def wait_idle(qtbot, panel: UpscalePanel) -> None:
    qtbot.waitUntil(lambda: not panel.is_running() and not panel.queue.with_state(State.QUEUED, State.RUNNING),
                    timeout=30_000)


def test_drop_upscales_and_bad_file_fails_alone(qtbot, panel: UpscalePanel, tmp_path: Path) -> None:
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"this is not a png")
    good = write_images(tmp_path / "in", 1, size=24)[0]
    drop(panel.drop_zone, [bad, good])
    wait_idle(qtbot, panel)
    bad_entry, good_entry = panel.queue.entry_for(bad), panel.queue.entry_for(good)
    assert bad_entry.state is State.FAILED and bad_entry.detail
    assert bad_entry.detail in bad_entry.item.text()
    assert good_entry.state is State.DONE and good_entry.result.shape[:2] == (96, 96)
    assert panel.queue.current_entry() is good_entry
    assert panel.compare.result_size() == QSize(96, 96)


def test_images_dropped_during_a_batch_run_in_the_next(qtbot, panel: UpscalePanel, tmp_path: Path) -> None:
    first, second = write_images(tmp_path / "in", 2, size=40)
    drop(panel.drop_zone, [first])
    assert panel.is_running()
    drop(panel.drop_zone, [second])
    assert panel.queue.entry_for(second).state is State.QUEUED
    wait_idle(qtbot, panel)
    assert [e.state for e in panel.queue.entries] == [State.DONE, State.DONE]


def test_dropped_folder_queues_its_images(qtbot, panel: UpscalePanel, tmp_path: Path) -> None:
    write_images(tmp_path / "folder", 3, size=16)
    drop(panel.drop_zone, [tmp_path / "folder"])
    wait_idle(qtbot, panel)
    assert len(panel.queue.entries) == 3 and all(e.state is State.DONE for e in panel.queue.entries)


def test_paste_image_data(qtbot, panel: UpscalePanel) -> None:
    image = QImage(20, 12, QImage.Format.Format_RGB888)
    image.fill(QColor("#3366cc"))
    QGuiApplication.clipboard().setImage(image)
    panel.paste()
    wait_idle(qtbot, panel)
    (entry,) = panel.queue.entries
    assert entry.state is State.DONE and entry.result.shape[:2] == (48, 80)


def test_unloadable_model_is_a_message(qtbot, panel: UpscalePanel, tmp_path: Path) -> None:
    fake = tmp_path / "fake.safetensors"
    fake.write_bytes(b"not a model at all")
    panel.model.add_model_file(fake)
    drop(panel.drop_zone, write_images(tmp_path / "in", 1, size=16))
    wait_idle(qtbot, panel)
    assert panel.message.isVisible() and "fake.safetensors" in panel.message.text()
    assert panel.queue.entries[0].state is State.FAILED


def test_save_all_never_overwrites(qtbot, panel: UpscalePanel, tmp_path: Path) -> None:
    drop(panel.drop_zone, write_images(tmp_path / "in", 1, size=16))
    wait_idle(qtbot, panel)
    out = tmp_path / "out"
    out.mkdir()
    existing = out / "img0_upscaled.png"
    existing.write_bytes(b"keep me")
    saved = panel.save_all_to(out)
    assert [p.name for p in saved] == ["img0_upscaled (1).png"]
    assert existing.read_bytes() == b"keep me"
    assert Image.open(saved[0]).size == (64, 64)
    np.testing.assert_array_equal(np.asarray(Image.open(saved[0])), panel.queue.entries[0].result)


@pytest.mark.parametrize("answer", ["No", "Yes"])
def test_save_asks_before_replacing(qtbot, panel: UpscalePanel, tmp_path: Path, monkeypatch, answer: str) -> None:
    drop(panel.drop_zone, write_images(tmp_path / "in", 1, size=16))
    wait_idle(qtbot, panel)
    target = tmp_path / "chosen.png"
    target.write_bytes(b"old")
    asked: list[str] = []
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(target), ""))
    monkeypatch.setattr(QMessageBox, "question",
                        lambda *a, **k: asked.append(a[2]) or getattr(QMessageBox.StandardButton, answer))
    assert panel.save_button.isEnabled()
    qtbot.mouseClick(panel.save_button, Qt.MouseButton.LeftButton)
    assert asked and "chosen.png" in asked[0]
    if answer == "No":
        assert target.read_bytes() == b"old"
    else:
        assert Image.open(target).size == (64, 64)
