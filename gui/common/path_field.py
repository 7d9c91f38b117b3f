"""A path setting: a text field that shows the end of a long path ("…/resources/samples", the part
that tells folders apart) while it is not being edited, and a Browse… button."""

from __future__ import annotations

import os
from pathlib import PurePath

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QPainter, QPaintEvent
from PySide6.QtWidgets import (QFileDialog, QHBoxLayout, QLineEdit, QPushButton, QStyle, QStyleOptionFrame,
                               QWidget)

TEXT_MARGIN = 4  # pixels between the frame and the text, as QLineEdit leaves them


class TailLineEdit(QLineEdit):
    """While it has no focus and its text does not fit, it draws the text elided at the start."""

    def displayed_text(self) -> str:
        """The text, or as many of its last path parts as fit ("…/resources/samples") while not editing."""
        text, room, metrics = self.text(), self._text_rect().width(), self.fontMetrics()
        if self.hasFocus() or metrics.horizontalAdvance(text) <= room:
            return text
        parts = PurePath(text).parts
        for first in range(1, len(parts)):
            tail = f"…{os.sep}{os.sep.join(parts[first:])}"
            if metrics.horizontalAdvance(tail) <= room:
                return tail
        return metrics.elidedText(text, Qt.TextElideMode.ElideLeft, room)

    def _text_rect(self):
        option = QStyleOptionFrame()
        self.initStyleOption(option)
        rect = self.style().subElementRect(QStyle.SubElement.SE_LineEditContents, option, self)
        return rect.adjusted(TEXT_MARGIN, 0, -TEXT_MARGIN, 0)

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802
        shown = self.displayed_text()
        if self.hasFocus() or shown == self.text():
            super().paintEvent(event)
            return
        painter = QPainter(self)
        option = QStyleOptionFrame()
        self.initStyleOption(option)
        self.style().drawPrimitive(QStyle.PrimitiveElement.PE_PanelLineEdit, option, painter, self)
        painter.setPen(self.palette().text().color() if self.isEnabled() else self.palette().placeholderText().color())
        painter.drawText(self._text_rect(), Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft, shown)


class PathField(QWidget):
    """A folder or file path with Browse…; `text()`/`setText()` as a line edit's."""

    textChanged = Signal(str)

    def __init__(self, title: str, folder: bool, file_filter: str = "", placeholder: str = "",
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._title, self._folder, self._filter = title, folder, file_filter
        self.line = TailLineEdit(placeholderText=placeholder)
        self.line.textChanged.connect(self.line.setToolTip)
        self.line.textChanged.connect(self.textChanged)
        self.browse = QPushButton("Browse…")
        self.browse.setToolTip(f"Choose the {title.lower()}")
        self.browse.clicked.connect(self._choose)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        layout.addWidget(self.line, 1)
        layout.addWidget(self.browse)
        self.setFocusProxy(self.line)

    def text(self) -> str:
        return self.line.text()

    def setText(self, text: str) -> None:  # noqa: N802 - the line edit's own name
        self.line.setText(text)

    def _choose(self) -> None:
        start = self.text().strip()
        if self._folder:
            chosen = QFileDialog.getExistingDirectory(self, self._title, start)
        else:
            chosen, _ = QFileDialog.getOpenFileName(self, self._title, start, self._filter)
        if chosen:
            self.setText(chosen)
