"""One queue row: thumbnail, name, in -> out size, model, progress bar and time, and once saved, where
to, with a button that opens that folder."""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QPainter, QPaintEvent, QPixmap
from PySide6.QtWidgets import QGridLayout, QHBoxLayout, QLabel, QProgressBar, QPushButton, QSizePolicy, QWidget

from gui.upscale.queue_entry import Entry, State

THUMB_PX = 48
# What a row without a thumbnail shows instead.
PLACEHOLDERS = {State.QUEUED: "…", State.RUNNING: "⋯", State.CANCELLING: "⋯", State.FAILED: "!",
                State.CANCELLED: "–"}


class ElidedLabel(QLabel):
    """A one-line label that shortens its text with '…' to fit instead of growing; `lead` (a prefix of the
    text) is always shown whole, so 'Saved to …/folder/name.png' keeps its end and its start."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.setTextFormat(Qt.TextFormat.PlainText)
        self.mode = Qt.TextElideMode.ElideRight
        self.lead = ""

    def show_text(self, text: str, mode: Qt.TextElideMode = Qt.TextElideMode.ElideRight, lead: str = "",
                  tooltip: str = "") -> None:
        self.mode, self.lead = mode, lead
        self.setText(text)
        self.setToolTip(tooltip or text)

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.setPen(self.palette().color(self.foregroundRole()))
        metrics = self.fontMetrics()
        lead = self.lead if self.text().startswith(self.lead) else ""
        rest = metrics.elidedText(self.text()[len(lead):], self.mode, self.width() - metrics.horizontalAdvance(lead))
        painter.drawText(self.rect(), int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter), lead + rest)


def details_text(entry: Entry) -> str:
    """'1000×700 → 4000×2800 · model · ×4'; the sizes once they are known."""
    parts = [entry.spec.model_label, entry.scale_text()]
    if entry.in_size and entry.out_size:
        (in_w, in_h), (out_w, out_h) = entry.in_size, entry.out_size
        parts.insert(0, f"{in_w}×{in_h} → {out_w}×{out_h}")
    return " · ".join(parts)


def _time_text(seconds: float | None) -> str:
    if seconds is None:
        return ""
    return f"{seconds:.1f} s" if seconds < 60 else f"{int(seconds // 60)} min {int(seconds % 60):02d} s"


SAVED_LEAD = "Saved to "


def status_text(entry: Entry) -> str:
    """The row's last line: what is happening to it, or what happened."""
    if entry.save_error:
        return f"Not saved: {entry.save_error}"
    if entry.saving:
        return "Saving…"
    if entry.saved_to is not None:  # the folder's name and the file's; the whole path is the tooltip
        return f"{SAVED_LEAD}{entry.saved_to.parent.name}/{entry.saved_to.name}"
    if entry.state is State.FAILED:
        return f"Failed: {entry.message}"
    if entry.state is State.RUNNING:
        return f"Upscaling… {entry.progress:.0%}"
    if entry.state is State.DONE:
        return "; ".join(("Done, not saved yet", *entry.warnings))
    return entry.state.value


class QueueRow(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.thumb = QLabel(alignment=Qt.AlignmentFlag.AlignCenter)
        self.thumb.setFixedSize(THUMB_PX, THUMB_PX)
        self.thumb.setProperty("role", "muted")
        glyph_font = self.thumb.font()
        glyph_font.setPointSizeF(glyph_font.pointSizeF() * 1.8)
        self.thumb.setFont(glyph_font)
        self.name = ElidedLabel()
        font = self.name.font()
        font.setBold(True)
        self.name.setFont(font)
        self.time = QLabel(alignment=Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self.time.setProperty("role", "muted")
        self.details = ElidedLabel()
        self.details.setProperty("role", "muted")
        self.status = ElidedLabel()
        self.progress = QProgressBar(textVisible=False, maximum=1000)
        self.progress.setFixedHeight(6)
        self.open_folder = QPushButton("Open folder")
        self.open_folder.setFlat(True)
        self.open_folder.setCursor(Qt.CursorShape.PointingHandCursor)
        self.open_folder.setProperty("role", "link")
        last_line = QHBoxLayout()
        last_line.setContentsMargins(0, 0, 0, 0)
        last_line.addWidget(self.status, 1)
        last_line.addWidget(self.progress, 1)
        last_line.addWidget(self.open_folder)
        grid = QGridLayout(self)
        grid.setContentsMargins(6, 4, 6, 4)
        grid.setHorizontalSpacing(8)
        grid.setVerticalSpacing(1)
        grid.addWidget(self.thumb, 0, 0, 3, 1)
        grid.addWidget(self.name, 0, 1)
        grid.addWidget(self.time, 0, 2)
        grid.addWidget(self.details, 1, 1, 1, 2)
        grid.addLayout(last_line, 2, 1, 1, 2)
        grid.setColumnStretch(1, 1)

    def sizeHint(self) -> QSize:
        return QSize(320, THUMB_PX + 18)

    def show_entry(self, entry: Entry) -> None:
        self.name.setText(entry.path.name)
        self.details.setText(details_text(entry))
        self.time.setText(_time_text(entry.elapsed()))
        cancelling = entry.state is State.CANCELLING
        busy = entry.state is State.RUNNING or cancelling or entry.saving
        self.progress.setVisible(busy)
        # saving: one step per file; cancelling: waiting for the engine. Both a busy bar.
        self.progress.setMaximum(0 if entry.saving or cancelling else 1000)
        self.progress.setValue(round(entry.progress * 1000))
        saved = entry.saved_to is not None and not entry.saving and not entry.save_error
        self.status.show_text(status_text(entry), Qt.TextElideMode.ElideMiddle if saved else Qt.TextElideMode.ElideRight,
                              SAVED_LEAD if saved else "", f"{SAVED_LEAD}{entry.saved_to}" if saved else "")
        self.status.setVisible(not busy or entry.saving or cancelling)
        failed = entry.state is State.FAILED or bool(entry.save_error)
        self.status.setProperty("role", "error" if failed else "muted")
        self.status.style().unpolish(self.status)
        self.status.style().polish(self.status)
        self.open_folder.setVisible(entry.saved_to is not None and not entry.saving)
        if entry.thumbnail is not None:
            pixmap = QPixmap.fromImage(entry.thumbnail).scaled(
                THUMB_PX, THUMB_PX, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation)
            self.thumb.setPixmap(pixmap)
        else:
            self.thumb.setText(PLACEHOLDERS.get(entry.state, ""))
