"""Validation crops as training goes, as a grid, with a slider to look back at earlier steps."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QHBoxLayout, QLabel, QSlider, QVBoxLayout, QWidget

from engine.events import Previews
from gui.train.preview_grid import PreviewGrid

MAX_HISTORY = 100  # each entry is up to four crops of four small pictures; this bounds memory on long runs


class PreviewsView(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._history: list[Previews] = []
        self.grid = PreviewGrid()
        self.slider = QSlider(Qt.Orientation.Horizontal, minimum=0, maximum=0, enabled=False)
        self.slider.valueChanged.connect(self._show)
        self.step_label = QLabel()
        self.step_label.setProperty("role", "muted")
        self.step_label.setMinimumWidth(self.step_label.fontMetrics().horizontalAdvance("Step 000000  (100/100)"))
        history = QHBoxLayout()
        history.addWidget(QLabel("History"))
        history.addWidget(self.slider, 1)
        history.addWidget(self.step_label)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.grid, 1)
        layout.addLayout(history)
        self.clear()

    def add(self, previews: Previews) -> None:
        """Show the newest previews, unless the user is looking back at an older one."""
        following = self.slider.value() == self.slider.maximum()
        self._history.append(previews)
        del self._history[:-MAX_HISTORY]
        self.slider.setEnabled(len(self._history) > 1)
        self.slider.setMaximum(len(self._history) - 1)
        if following:
            self.slider.setValue(self.slider.maximum())
        self._show(self.slider.value())

    def clear(self, message: str = "No previews yet") -> None:
        self._history.clear()
        self.slider.setMaximum(0)
        self.slider.setEnabled(False)
        self.step_label.setText("")
        self.grid.set_previews(None, message)

    def shown_step(self) -> int | None:
        return self._history[self.slider.value()].step if self._history else None

    def _show(self, index: int) -> None:
        if not self._history:
            return
        self.grid.set_previews(self._history[index])
        self.step_label.setText(f"Step {self._history[index].step}  ({index + 1}/{len(self._history)})")
