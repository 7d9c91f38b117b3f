"""The preview crops of one validation as a grid, TensorBoard-style: one strip per crop (low-res input
drawn at HR size with nearest pixels, bicubic, the generator's output, original), the strips arranged in the rows
and columns that make the pictures largest in the space there is. Painted in one widget: sixteen
labelled image widgets would cost more to lay out than the pictures cost to draw."""

from __future__ import annotations

from PySide6.QtCore import QRect, QSize, Qt
from PySide6.QtGui import QImage, QPainter, QPaintEvent
from PySide6.QtWidgets import QSizePolicy, QWidget

from engine.events import Previews
from gui.common.images import to_qimage

COLUMNS = (("lr", "Input"), ("bicubic", "Bicubic"), ("sr", "Output"), ("hr", "Original"))
GAP = 4  # between tiles of a strip
STRIP_GAP = 14  # between strips
MIN_TILE = 40


def grid_shape(count: int, width: int, height: int, header: int) -> tuple[int, int]:
    """(strips per row, tile side) that give the largest tiles for `count` strips in width x height."""
    best = (1, 0)
    for per_row in range(1, max(1, count) + 1):
        rows = -(-max(1, count) // per_row)
        tile_w = (width - (per_row - 1) * STRIP_GAP - per_row * (len(COLUMNS) - 1) * GAP) / (per_row * len(COLUMNS))
        tile_h = (height - rows * header - (rows - 1) * STRIP_GAP) / rows
        tile = int(min(tile_w, tile_h))
        if tile > best[1]:
            best = (per_row, tile)
    return best


class PreviewGrid(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._images: list[dict[str, QImage]] = []
        self.message = ""  # shown while there are no previews
        self.setMinimumSize(len(COLUMNS) * (MIN_TILE + GAP), MIN_TILE + self._header())
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)

    def sizeHint(self) -> QSize:
        return QSize(720, 200)

    def _header(self) -> int:
        return self.fontMetrics().height() + 4

    def set_previews(self, previews: Previews | None, message: str = "") -> None:
        self._images = [{key: to_qimage(getattr(crop, key)) for key, _ in COLUMNS}
                        for crop in (previews.crops if previews else ())]
        self.message = message
        self.update()

    def crop_count(self) -> int:
        return len(self._images)

    def tile_rects(self) -> list[list[QRect]]:
        """Where each crop's pictures go: a list per crop of one rectangle per column."""
        count = len(self._images)
        per_row, tile = grid_shape(count, self.width(), self.height(), self._header())
        if not count or tile <= 0:
            return []
        strip = len(COLUMNS) * tile + (len(COLUMNS) - 1) * GAP
        used_w = per_row * strip + (per_row - 1) * STRIP_GAP
        rows = -(-count // per_row)
        used_h = rows * (tile + self._header()) + (rows - 1) * STRIP_GAP
        left0, top0 = (self.width() - used_w) // 2, (self.height() - used_h) // 2
        rects = []
        for index in range(count):
            row, col = divmod(index, per_row)
            left = left0 + col * (strip + STRIP_GAP)
            top = top0 + row * (tile + self._header() + STRIP_GAP) + self._header()
            rects.append([QRect(left + k * (tile + GAP), top, tile, tile) for k in range(len(COLUMNS))])
        return rects

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802
        painter = QPainter(self)
        placeholder = self.palette().alternateBase()
        painter.setPen(self.palette().placeholderText().color())
        if not self._images:
            painter.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap, self.message)
        for images, rects in zip(self._images, self.tile_rects()):
            for (key, title), rect in zip(COLUMNS, rects):
                label = QRect(rect.left(), rect.top() - self._header(), rect.width(), self._header())
                text = self.fontMetrics().elidedText(title, Qt.TextElideMode.ElideRight, rect.width())
                painter.drawText(label, Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop, text)
                painter.fillRect(rect, placeholder)
                image = images[key]
                size = image.size().scaled(rect.size(), Qt.AspectRatioMode.KeepAspectRatio)
                target = QRect(0, 0, size.width(), size.height())
                target.moveCenter(rect.center())
                painter.drawImage(target, image)  # no SmoothPixmapTransform hint: nearest, pixels stay honest
