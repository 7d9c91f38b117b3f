"""Validation crops as training goes: LR (drawn at HR size, nearest), bicubic, generated, original,
with a slider to look back at earlier steps."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QHBoxLayout, QLabel, QSlider, QVBoxLayout, QWidget

from engine.events import Samples
from gui.image_tile import ImageTile
from gui.images import to_qimage

TILES = (("lr", "Low-res input"), ("bicubic", "Bicubic"), ("sr", "Generated"), ("hr", "Original"))
MAX_HISTORY = 200  # each entry is a few small crops; this bounds memory on very long runs


class SamplesView(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._history: list[Samples] = []
        self.tiles = {key: ImageTile(title) for key, title in TILES}
        self.slider = QSlider(Qt.Orientation.Horizontal, minimum=0, maximum=0, enabled=False)
        self.slider.valueChanged.connect(self._show)
        self.step_label = QLabel("No samples yet")
        self.step_label.setProperty("role", "muted")
        self.step_label.setMinimumWidth(110)
        row = QHBoxLayout()
        for tile in self.tiles.values():
            row.addWidget(tile)
        history = QHBoxLayout()
        history.addWidget(QLabel("History"))
        history.addWidget(self.slider, 1)
        history.addWidget(self.step_label)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(row, 1)
        layout.addLayout(history)

    def add(self, samples: Samples) -> None:
        """Show the newest samples, unless the user is looking back at an older one."""
        following = self.slider.value() == self.slider.maximum()
        self._history.append(samples)
        del self._history[:-MAX_HISTORY]
        self.slider.setEnabled(len(self._history) > 1)
        self.slider.setMaximum(len(self._history) - 1)
        if following:
            self.slider.setValue(self.slider.maximum())
        self._show(self.slider.value())

    def clear(self) -> None:
        self._history.clear()
        self.slider.setMaximum(0)
        self.slider.setEnabled(False)
        self.step_label.setText("No samples yet")
        for tile in self.tiles.values():
            tile.set_image(None)

    def shown_step(self) -> int | None:
        return self._history[self.slider.value()].step if self._history else None

    def _show(self, index: int) -> None:
        if not self._history:
            return
        samples = self._history[index]
        for key, tile in self.tiles.items():
            tile.set_image(to_qimage(getattr(samples.crops[0], key)))
        self.step_label.setText(f"Step {samples.step}  ({index + 1}/{len(self._history)})")
