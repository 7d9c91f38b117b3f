"""A run's warnings: the latest in a banner, all of them in a list once there are several.

A warning about how a run is set up (no VGG weights, a skipped file) is raised again each time the run
is resumed; it is shown once per run. A warning that recurs later in training (a stuck discriminator)
keeps one row that says when it was last seen and how often.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QListWidget, QListWidgetItem, QVBoxLayout, QWidget

LIST_MAX_HEIGHT = 96


class WarningsBox(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.banner = QLabel(wordWrap=True)
        self.banner.setProperty("role", "banner")
        self.banner.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.list = QListWidget(wordWrap=True)
        self.list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.list.setMaximumHeight(LIST_MAX_HEIGHT)
        self._rows: dict[tuple[str, str], tuple[QListWidgetItem, int]] = {}  # (code, message) -> row, count
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.banner)
        layout.addWidget(self.list)
        self.clear()

    def clear(self) -> None:
        """A new run: no warnings."""
        self.list.clear()
        self._rows.clear()
        self.setVisible(False)

    def add(self, step: int, code: str, message: str, start_step: int) -> bool:
        """Show a warning raised at `step` of a run that (re)started at `start_step`; False if it was a
        repeat of one already shown at a start."""
        key = (code, message)
        if key in self._rows:
            item, count = self._rows[key]
            if step == start_step:
                return False
            self._rows[key] = (item, count + 1)
            item.setText(f"Step {step}: {message} ({count + 1} times)")
        else:
            item = QListWidgetItem(f"Step {step}: {message}")
            self.list.addItem(item)
            self._rows[key] = (item, 1)
        self.banner.setText(f"⚠ {message}")
        self.list.setVisible(self.list.count() > 1)  # the banner already shows a lone warning
        self.list.scrollToItem(item)
        self.setVisible(True)
        return True

    def texts(self) -> list[str]:
        return [self.list.item(i).text() for i in range(self.list.count())]
