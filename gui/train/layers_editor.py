"""The perceptual loss's layers as a small table (layer, weight) with add and remove buttons, in place
of a JSON dict typed by hand. Layer names are offered from the VGG network's real layout."""

from __future__ import annotations

from functools import cache

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (QAbstractItemView, QComboBox, QDoubleSpinBox, QHBoxLayout, QHeaderView, QPushButton,
                               QTableWidget, QVBoxLayout, QWidget)

from engine.training.config import CHOICES
from engine.training.perceptual import layer_names, vgg_feature_stack

ROW_HEIGHT_EXTRA = 6


@cache
def vgg_layers(net: str) -> tuple[str, ...]:
    """The conv/relu layer names of `net` (from a very thin copy of its layout: no weights to speak of)."""
    return tuple(name for name in layer_names(vgg_feature_stack(net, width_divisor=64)) if not name.startswith("pool"))


class LayersEditor(QWidget):
    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.table = QTableWidget(0, 2)
        self.table.setHorizontalHeaderLabels(["Layer", "Weight"])
        self.table.verticalHeader().setVisible(False)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.table.horizontalHeader().setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        self.add_button = QPushButton("Add layer")
        self.add_button.clicked.connect(lambda: self._add_row("", 1.0))
        self.remove_button = QPushButton("Remove")
        self.remove_button.setToolTip("Remove the selected layer (the last one when none is selected)")
        self.remove_button.clicked.connect(self._remove_selected)
        buttons = QHBoxLayout()
        buttons.addWidget(self.add_button)
        buttons.addWidget(self.remove_button)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.table)
        layout.addLayout(buttons)

    def _add_row(self, layer: str, weight: float) -> None:
        row = self.table.rowCount()
        self.table.insertRow(row)
        name = QComboBox(editable=True)
        name.addItems(sorted(set(vgg_layers(CHOICES["perceptual_net"][-1])) | set(vgg_layers(CHOICES["perceptual_net"][0])),
                             key=lambda text: (text[-3:], text)))
        name.setCurrentText(layer or "conv3_3")
        name.currentTextChanged.connect(self.changed)
        value = QDoubleSpinBox(decimals=4, minimum=0.0, maximum=1000.0, singleStep=0.1, value=weight)
        value.valueChanged.connect(self.changed)
        self.table.setCellWidget(row, 0, name)
        self.table.setCellWidget(row, 1, value)
        self._fit_height()
        self.changed.emit()

    def _remove_selected(self) -> None:
        rows = sorted({index.row() for index in self.table.selectedIndexes()}, reverse=True)
        for row in rows or [self.table.rowCount() - 1]:
            if row >= 0:
                self.table.removeRow(row)
        self._fit_height()
        self.changed.emit()

    def _fit_height(self) -> None:
        """As tall as its rows, so the form around it scrolls rather than the table."""
        rows = sum(self.table.rowHeight(row) for row in range(self.table.rowCount()))
        self.table.setFixedHeight(self.table.horizontalHeader().height() + rows + ROW_HEIGHT_EXTRA)

    def value(self) -> dict[str, float]:
        layers: dict[str, float] = {}
        for row in range(self.table.rowCount()):
            name = self.table.cellWidget(row, 0).currentText().strip()
            if name:
                layers[name] = layers.get(name, 0.0) + self.table.cellWidget(row, 1).value()
        return layers

    def set_value(self, layers: dict[str, float]) -> None:
        self.table.setRowCount(0)
        for name, weight in layers.items():
            self._add_row(name, weight)
        self._fit_height()
