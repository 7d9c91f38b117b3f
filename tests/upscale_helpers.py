"""Helpers for the Upscale tab's tests: tiny exported models, the panel on isolated settings and store,
real drops, real clicks on queue rows, popups and message boxes."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QTimer, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QApplication, QComboBox, QMessageBox, QWidget

from engine.archs.networks import CompactGenerator
from engine.models.export import export_generator
from gui.upscale.queue_entry import Entry, State
from gui.upscale.result_store import ResultStore
from gui.upscale.panel import UpscalePanel
from tests.gui_helpers import isolated_settings

TIMEOUT_MS = 30_000


def tiny_model(path: Path, scale: int = 4, extra: dict | None = None, features: int = 8, convs: int = 2) -> Path:
    net = CompactGenerator(3, features, convs, scale)
    return export_generator(path, net.state_dict(), net.spec(), net.value_range, extra=extra)


def make_panel(qtbot, tmp_path: Path, model: Path | None = None) -> UpscalePanel:
    """A panel on its own settings file, result store and output folder, upscaling with `model`."""
    settings = isolated_settings(tmp_path)
    settings.setValue("upscale/output_dir", str(tmp_path / "out"))
    panel = UpscalePanel(settings, store=ResultStore(tmp_path / "store"))
    qtbot.addWidget(panel, before_close_func=lambda w: qtbot.waitUntil(lambda: not w.is_running(),
                                                                       timeout=TIMEOUT_MS))
    if model is not None:
        panel.model.add_model_file(model)
    panel.resize(1200, 760)
    panel.show()
    return panel


def drop(widget: QWidget, paths: list[Path]) -> None:
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    buttons, modifiers = Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
    enter = QDragEnterEvent(QPoint(10, 10), Qt.DropAction.CopyAction, mime, buttons, modifiers)
    QApplication.sendEvent(widget, enter)  # Qt delivers a drop only after an accepted drag-enter
    assert enter.isAccepted()
    QApplication.sendEvent(widget, QDropEvent(QPointF(10, 10), Qt.DropAction.CopyAction, mime, buttons, modifiers))


def wait_idle(qtbot, panel: UpscalePanel) -> None:
    qtbot.waitUntil(lambda: not panel.is_running() and not panel.queue.with_state(State.QUEUED, State.RUNNING),
                    timeout=TIMEOUT_MS)


def click_row(qtbot, panel: UpscalePanel, entry: Entry,
              modifier: Qt.KeyboardModifier = Qt.KeyboardModifier.NoModifier) -> None:
    item, _ = panel.queue._rows[entry.key]
    panel.queue.scrollToItem(item)
    center = panel.queue.visualItemRect(item).center()
    qtbot.mouseClick(panel.queue.viewport(), Qt.MouseButton.LeftButton, modifier, center)


def pick_in_popup(qtbot, combo: QComboBox, text: str) -> None:
    """Open the combo's popup and click the entry `text`, as a person would."""
    combo.showPopup()
    view = combo.view()
    qtbot.waitUntil(view.isVisible)
    index = combo.model().index(combo.findText(text), 0)
    view.scrollTo(index)
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=view.visualRect(index).center())


def answer_next_question(button_text: str, seen: list[str]) -> None:
    """Click `button_text` in the next modal message box, recording its text in `seen`."""

    def click() -> None:
        box = QApplication.activeModalWidget()
        if not isinstance(box, QMessageBox):
            QTimer.singleShot(10, click)
            return
        seen.append(f"{box.text()} {box.informativeText()}")
        next(button for button in box.buttons() if button.text() == button_text).click()

    QTimer.singleShot(0, click)
