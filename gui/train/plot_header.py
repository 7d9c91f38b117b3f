"""A plot's title and legend, above its data so the legend never covers a curve: on the title's line when
the plot is wide enough, else on rows of their own under it, wrapped to the plot's width. Either way
the grid never grows wider than its view, and a short window keeps as much height as it can for data."""

from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QSizePolicy

TITLE_SIZE = "9pt"
SAMPLE_PX = 26  # a legend entry's line sample and spacing, beside its text
TITLE_GAP_PX = 16  # between the title and a legend on its line
PLOT_ROW = 2  # the cell's rows: 0 title (and a legend that fits beside it), 1 a legend that does not, 2 the plot


class PlotHeader:
    def __init__(self, cell: pg.GraphicsLayout, title: str, entries: int) -> None:
        self._cell = cell
        self.title = cell.addLabel(title, row=0, col=0, size=TITLE_SIZE, justify="left")
        self.legend = pg.LegendItem(colCount=entries, labelTextSize="8pt", horSpacing=4, verSpacing=-8)
        self.legend.layout.setContentsMargins(0, 0, 0, 0)
        self.legend.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)
        self._beside: bool | None = None
        self._place(beside=False)

    def _place(self, beside: bool) -> None:
        if self._beside is not None:
            self._cell.removeItem(self.legend)
        self._cell.addItem(self.legend, row=0 if beside else 1, col=1 if beside else 0, colspan=1 if beside else 2)
        side = Qt.AlignmentFlag.AlignRight if beside else Qt.AlignmentFlag.AlignLeft
        self._cell.layout.setAlignment(self.legend, side)
        self._beside = beside

    def fit(self, width: float) -> bool:
        """Lay the legend out for a plot `width` pixels wide; whether anything moved."""
        widths = [SAMPLE_PX + label.item.boundingRect().width() for _, label in self.legend.items]
        beside = self.title.item.boundingRect().width() + TITLE_GAP_PX + sum(widths) <= width
        columns = len(widths)
        while not beside and columns > 1 and sum(sorted(widths)[-columns:]) > width:
            columns -= 1
        changed = beside != self._beside or columns != self.legend.columnCount
        if beside != self._beside:
            self._place(beside)
        if columns != self.legend.columnCount:
            self.legend.setColumnCount(columns)
        return changed

    def set_color(self, text: str) -> None:
        self.title.setText(self.title.text, color=text, size=TITLE_SIZE, justify="left")
        self.legend.setLabelTextColor(text)
