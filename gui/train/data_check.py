"""The line under the Train tab's data fields: what the chosen folders hold ("42 images (HR only, …)",
"40 pairs HR+LR, x4 …") or why training would refuse them, surveyed off the GUI thread a moment after
the folders stop changing, since a large folder takes a while to read."""

from __future__ import annotations

from PySide6.QtCore import QObject, QTimer, Signal

from engine.data.survey import Survey, survey
from gui.common.background import Background

DEBOUNCE_MS = 300
Key = tuple[str, str, int]  # data folder, LR folder, scale


class DataCheck(QObject):
    checked = Signal(str, bool)  # the line, whether the data can train

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._key: Key | None = None
        self._timer = QTimer(self, singleShot=True, interval=DEBOUNCE_MS)
        self._timer.timeout.connect(self._survey)
        self._background = Background("data-check", self)
        self._background.done.connect(self._on_done)
        self._background.failed.connect(self._on_failed)

    def request(self, data_dir: str, lr_dir: str, scale: int) -> None:
        """The folders now in the form: surveyed after a pause, unless they are the ones already asked about."""
        key = (data_dir, lr_dir, scale)
        if key == self._key:
            return
        self._key = key
        if not data_dir:
            self._timer.stop()
            self.checked.emit("Choose a folder of training images", False)
            return
        self._timer.start()

    def _survey(self) -> None:
        key = self._key
        if key is not None:
            self._background.submit(key, lambda: survey(*key))

    def _on_done(self, key: object, result: object) -> None:
        if key == self._key and isinstance(result, Survey):
            self.checked.emit(result.describe(), True)

    def _on_failed(self, key: object, message: str) -> None:
        if key == self._key:
            self.checked.emit(message, False)

    def shutdown(self) -> None:
        self._timer.stop()
        self._background.shutdown()
