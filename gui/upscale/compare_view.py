"""Before/after view: both images drawn at the same zoom and position, split by a divider the user
drags. Mouse wheel zooms around the cursor, dragging elsewhere pans. The same view compares two results
of one image (A/B): then both sides are results, labelled with their models, and drawn alike.

The left side is drawn into the right side's rectangle, so the input (or a result of another size) is
resized to the right side's size at paint time (nearest or smooth) without ever making a full-size copy. Each side is drawn from a preview
while that has enough pixels for the zoom, else from the full image (memory-mapped from the result
store), and only the part that is on screen is drawn.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from PySide6.QtCore import QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QImage, QMouseEvent, QPainter, QPaintEvent, QPen, QWheelEvent
from PySide6.QtWidgets import QSizePolicy, QWidget

GRAB_PX = 8  # how near the divider a press grabs it
MIN_ZOOM, MAX_ZOOM = 0.02, 32.0
# A side drawn at most this many times the widget's area is scaled once and kept, so dragging the divider
# or panning only copies pixels; larger (zoomed in far) it is drawn straight from the visible source part.
CACHE_AREAS = 4
BEFORE_AFTER = ("Before", "After")
LABEL_PAD = 10  # room either side of a label's text in its box


@dataclass
class ViewImage:
    """One side of the comparison: a preview, the full size, and how to load the full image."""

    preview: QImage
    size: QSize
    load_full: Callable[[], QImage] | None = None  # None: the preview is the full image
    _full: QImage | None = field(default=None, repr=False)
    _scaled: tuple[tuple[int, int, bool], QImage] | None = field(default=None, repr=False)

    @classmethod
    def of(cls, image: QImage) -> ViewImage:
        return cls(image, image.size())

    def for_width(self, drawn_width: float) -> QImage:
        """The preview when it has at least `drawn_width` pixels across, else the full image."""
        if self.load_full is None or self.preview.width() >= drawn_width:
            return self.preview
        if self._full is None:
            self._full = self.load_full()
        return self._full

    def scaled_to(self, size: QSize, smooth: bool) -> QImage:
        """The whole image at `size`, made once per size."""
        key = (size.width(), size.height(), smooth)
        if self._scaled is None or self._scaled[0] != key:
            source = self.for_width(size.width())
            opaque = not source.hasAlphaChannel()
            image = QImage(size, QImage.Format.Format_RGB32 if opaque else QImage.Format.Format_ARGB32_Premultiplied)
            image.fill(Qt.GlobalColor.transparent)
            painter = QPainter(image)  # bilinear: several times quicker than QImage.scaled's area averaging
            painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, smooth)
            painter.drawImage(QRectF(0, 0, size.width(), size.height()), source)
            painter.end()
            self._scaled = (key, image)
        return self._scaled[1]


class CompareView(QWidget):
    zoom_changed = Signal(float)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._before: ViewImage | None = None
        self._after: ViewImage | None = None
        self._zoom = 1.0
        self._center = QPointF()  # the image point shown at the middle of the widget
        self._split = 0.5  # divider position as a fraction of the widget's width
        self._labels = BEFORE_AFTER
        self._left_is_input = True  # the left side is the input, smoothed as the user chose; else a result
        self._drag: str | None = None
        self._last_pos = QPointF()
        self.smooth_before = True
        self.setMinimumSize(320, 240)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMouseTracking(True)

    # ------------------------------------------------------------------ public
    def set_images(self, before: ViewImage, after: ViewImage, labels: tuple[str, str] = BEFORE_AFTER,
                   left_is_input: bool = True) -> None:
        """Show a new pair, each side with its label. The first pair is fitted; later ones keep the zoom and
        the relative position, so switching between results (or to A/B) compares the same spot. When the
        left side is a result too (`left_is_input` False) it is drawn by the right side's rule, never
        smoothed alone, so neither side of an A/B looks softer for the drawing's sake."""
        previous = self._after
        self._before, self._after = before, after
        self._labels, self._left_is_input = labels, left_is_input
        if previous is None:
            self.fit()
            return
        old, new = previous.size, after.size
        self._center = QPointF(self._center.x() * new.width() / old.width(),
                               self._center.y() * new.height() / old.height())
        self.update()

    def clear(self) -> None:
        self._before = self._after = None
        self.update()

    def labels(self) -> tuple[str, str]:
        """What the left and right sides are called ('Before', 'After', or the two models of an A/B)."""
        return self._labels

    def result_size(self) -> QSize:
        return self._after.size if self._after is not None else QSize()

    def zoom(self) -> float:
        return self._zoom

    def split(self) -> float:
        return self._split

    def set_split(self, fraction: float) -> None:
        self._split = min(1.0, max(0.0, fraction))
        self.update()

    def set_smooth_before(self, smooth: bool) -> None:
        self.smooth_before = smooth
        self.update()

    def fit(self) -> None:
        if self._after is None:
            return
        size = self._after.size
        self._set_zoom(min(self.width() / size.width(), self.height() / size.height()))
        self._center = QPointF(size.width() / 2, size.height() / 2)
        self.update()

    def actual_size(self) -> None:
        self._set_zoom(1.0)
        self.update()

    # ------------------------------------------------------------------ geometry
    def _set_zoom(self, zoom: float) -> None:
        self._zoom = min(MAX_ZOOM, max(MIN_ZOOM, zoom))
        self.zoom_changed.emit(self._zoom)

    def _image_rect(self) -> QRectF:
        size = self._after.size
        middle = QPointF(self.width() / 2, self.height() / 2)
        top_left = middle - self._center * self._zoom
        return QRectF(top_left.x(), top_left.y(), size.width() * self._zoom, size.height() * self._zoom)

    def _to_image(self, pos: QPointF) -> QPointF:
        middle = QPointF(self.width() / 2, self.height() / 2)
        return self._center + (pos - middle) / self._zoom

    def _divider_x(self) -> float:
        return self._split * self.width()

    # ------------------------------------------------------------------ painting
    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), self.palette().base())
        if self._after is None or self._before is None:
            painter.setPen(self.palette().placeholderText().color())
            painter.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, "The result of the selected image shows here")
            return
        target = self._image_rect()
        divider = self._divider_x()
        left_smooth = self.smooth_before if self._left_is_input else None
        self._paint_side(painter, self._before, target, QRectF(0, 0, divider, self.height()), left_smooth)
        self._paint_side(painter, self._after, target, QRectF(divider, 0, self.width() - divider, self.height()),
                         None)
        self._paint_divider(painter, divider)

    def _paint_side(self, painter: QPainter, side: ViewImage, target: QRectF, area: QRectF,
                    smooth: bool | None) -> None:
        """Draw the part of `side` that falls in `area` of the widget; `smooth` None = only when shrinking."""
        visible = target.intersected(area)
        if visible.isEmpty():
            return
        ratio = self.devicePixelRatioF()
        drawn = QSize(max(1, round(target.width() * ratio)), max(1, round(target.height() * ratio)))
        image = side.for_width(drawn.width())
        smooth = image.width() > drawn.width() if smooth is None else smooth
        if drawn.width() * drawn.height() <= CACHE_AREAS * self.width() * self.height() * ratio ** 2:
            image, smooth = side.scaled_to(drawn, smooth), False
        sx, sy = image.width() / target.width(), image.height() / target.height()
        source = QRectF((visible.left() - target.left()) * sx, (visible.top() - target.top()) * sy,
                        visible.width() * sx, visible.height() * sy)
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, smooth)
        painter.drawImage(visible, image, source)

    def _paint_divider(self, painter: QPainter, x: float) -> None:
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(QPen(QColor(255, 255, 255, 230), 2))
        painter.drawLine(QPointF(x, 0), QPointF(x, self.height()))
        painter.setBrush(QColor(30, 32, 38, 200))
        painter.drawEllipse(QPointF(x, self.height() / 2), 11, 11)
        painter.drawText(QRectF(x - 11, self.height() / 2 - 11, 22, 22), Qt.AlignmentFlag.AlignCenter, "⇔")
        metrics = painter.fontMetrics()
        for label, right in zip(self._labels, (False, True)):
            room = max(0.0, (self.width() - x if right else x) - 16 - 2 * LABEL_PAD)
            text = metrics.elidedText(label, Qt.TextElideMode.ElideMiddle, int(room))
            box = QRectF(0, 8, max(64, metrics.horizontalAdvance(text) + 2 * LABEL_PAD), 22)
            if right:
                box.moveLeft(x + 8)
            else:
                box.moveRight(x - 8)
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(QColor(30, 32, 38, 170))
            painter.drawRoundedRect(box, 4, 4)
            painter.setPen(QColor("white"))
            painter.drawText(box, Qt.AlignmentFlag.AlignCenter, text)

    # ------------------------------------------------------------------ mouse
    def mousePressEvent(self, event: QMouseEvent) -> None:
        if event.button() != Qt.MouseButton.LeftButton:
            return
        near_divider = abs(event.position().x() - self._divider_x()) <= GRAB_PX
        self._drag = "divider" if near_divider else "pan"
        self._last_pos = event.position()

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        pos = event.position()
        if self._drag == "divider":
            self.set_split(pos.x() / max(1, self.width()))
        elif self._drag == "pan":
            self._center -= (pos - self._last_pos) / self._zoom
            self.update()
        near = abs(pos.x() - self._divider_x()) <= GRAB_PX
        on_divider = near or self._drag == "divider"
        self.setCursor(Qt.CursorShape.SplitHCursor if on_divider else Qt.CursorShape.OpenHandCursor)
        self._last_pos = pos

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        self._drag = None

    def wheelEvent(self, event: QWheelEvent) -> None:
        if self._after is None:
            return
        pos = event.position()
        anchor = self._to_image(pos)
        self._set_zoom(self._zoom * 1.15 ** (event.angleDelta().y() / 120))
        middle = QPointF(self.width() / 2, self.height() / 2)
        self._center = anchor - (pos - middle) / self._zoom  # keep the point under the cursor still
        self.update()
