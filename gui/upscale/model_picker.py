"""Which generator upscales: a bundled model, the current training run's weights (read fresh at each
batch, so they follow training without an export step), or a model file the user opens. Each entry has
a one-line description; a file is loaded on a worker before it is accepted, so a broken one is refused
with its reason when it is chosen, not when it is first used."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QRect, QSize, Qt, Signal
from PySide6.QtGui import QPainter
from PySide6.QtWidgets import (QApplication, QComboBox, QFileDialog, QStyle, QStyledItemDelegate,
                               QStyleOptionViewItem, QWidget)

from engine.models.registry import DEFAULT_MODEL, bundled_models, describe_model, load_model, weights_file_filter
from engine.training.run_folder import BEST, CHECKPOINT
from gui.common.job_worker import JobWorker

OPEN_FILE = "open-file"
BUNDLED = "Bundled: "
DESCRIPTION_ROLE = Qt.ItemDataRole.UserRole + 1
LABEL_ROLE = Qt.ItemDataRole.UserRole + 2  # the short name a queue row shows
# label, file in the run folder, which weights, description
RUN_MODELS = (("raw", CHECKPOINT, "generator", "The current run's latest raw (not averaged) weights, read at each batch"),
              ("best", BEST, "ema", "The current run's best-scoring weights so far"),
              ("EMA", CHECKPOINT, "ema", "The current run's averaged (EMA) weights, read at each batch"))
ModelIndex = QModelIndex | QPersistentModelIndex


class TwoLineDelegate(QStyledItemDelegate):
    """Popup rows: the model's name, and under it its description in the muted colour."""

    def sizeHint(self, option: QStyleOptionViewItem, index: ModelIndex) -> QSize:
        return QSize(300, option.fontMetrics.height() * 2 + 10)

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: ModelIndex) -> None:
        style = option.widget.style() if option.widget else QApplication.style()
        style.drawPrimitive(QStyle.PrimitiveElement.PE_PanelItemViewItem, option, painter, option.widget)
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        palette = option.palette
        text = palette.highlightedText().color() if selected else palette.text().color()
        muted = text if selected else palette.placeholderText().color()
        line = option.fontMetrics.height()
        area = option.rect.adjusted(8, 4, -8, -4)
        painter.save()
        font = option.font
        font.setBold(True)
        painter.setFont(font)
        painter.setPen(text)
        painter.drawText(QRect(area.left(), area.top(), area.width(), line), Qt.AlignmentFlag.AlignVCenter,
                         str(index.data(Qt.ItemDataRole.DisplayRole) or ""))
        font.setBold(False)
        painter.setFont(font)
        painter.setPen(muted)
        description = option.fontMetrics.elidedText(str(index.data(DESCRIPTION_ROLE) or ""),
                                                    Qt.TextElideMode.ElideRight, area.width())
        painter.drawText(QRect(area.left(), area.top() + line, area.width(), line), Qt.AlignmentFlag.AlignVCenter,
                         description)
        painter.restore()


class _ModelCheck:
    """Loads a model file on the worker thread; yields its description if it loads."""

    def __init__(self, path: str) -> None:
        self.path = path

    def run(self):  # noqa: ANN201 - a generator of one str
        load_model(self.path)
        yield describe_model(self.path)

    def request_stop(self) -> None:
        """Loading is one step; there is nothing to stop between."""


class ModelPicker(QComboBox):
    problem = Signal(str)  # a one-line reason a chosen file was refused
    checking = Signal(bool)  # a file is being loaded to check it
    model_changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._run_dir = ""
        self._previous = -1
        self._check: JobWorker | None = None
        self.setPlaceholderText("Choose a model")
        self.setMinimumContentsLength(18)
        self.setItemDelegate(TwoLineDelegate(self))
        self._rebuild()
        self.activated.connect(self._on_activated)
        self.currentIndexChanged.connect(lambda _: self.model_changed.emit())

    # ------------------------------------------------------------------ entries
    def _add(self, text: str, data: tuple[str, str], description: str, label: str, row: int | None = None) -> None:
        row = self.count() if row is None else row
        self.insertItem(row, text, data)
        self.setItemData(row, description, DESCRIPTION_ROLE)
        self.setItemData(row, description, Qt.ItemDataRole.ToolTipRole)
        self.setItemData(row, label, LABEL_ROLE)

    def _rebuild(self) -> None:
        keep = self.current()
        files = [(self.itemText(i), self.itemData(i), self.itemData(i, DESCRIPTION_ROLE), self.itemData(i, LABEL_ROLE))
                 for i in range(self.count()) if self.itemText(i).startswith("File: ")]
        self.blockSignals(True)
        self.clear()
        for name, path in bundled_models().items():
            self._add(f"{BUNDLED}{name}", (str(path), "ema"), describe_model(path), name)
        if self._run_dir:
            for label, filename, which, description in RUN_MODELS:
                self._add(f"Current run: {label}", (str(Path(self._run_dir) / filename), which), description,
                          f"run {label}")
        for text, data, description, label in files:
            self._add(text, data, description, label)
        self._add("Open model file…", (OPEN_FILE, ""), "A .safetensors or .pth model: ours, ESRGAN, SwinIR, …", "")
        default = self.findText(f"{BUNDLED}{DEFAULT_MODEL}")
        index = self.findData(keep) if keep else -1
        self.setCurrentIndex(index if index >= 0 else max(default, 0) if self.count() > 1 else -1)
        self._previous = self.currentIndex()
        self.blockSignals(False)
        self.model_changed.emit()

    def set_run_dir(self, run_dir: str) -> None:
        self._run_dir = run_dir
        self._rebuild()

    def add_model_file(self, path: str | Path, description: str | None = None) -> None:
        """Add and select a file already known to load (the check is `choose_file`)."""
        data = (str(path), "ema")
        if self.findData(data) < 0:
            self._add(f"File: {Path(path).name}", data, description or describe_model(path), Path(path).stem,
                      self.count() - 1)
        self.setCurrentIndex(self.findData(data))
        self._previous = self.currentIndex()

    def select(self, source: str, which: str) -> bool:
        """Select an entry that is already listed; False when there is none."""
        index = self.findData((source, which))
        if index >= 0:
            self.setCurrentIndex(index)
            self._previous = index
        return index >= 0

    # ------------------------------------------------------------------ reading
    def current(self) -> tuple[str, str] | None:
        """(model source, which weights), or None when nothing usable is selected."""
        data = self.currentData()
        return data if isinstance(data, tuple) and data[0] != OPEN_FILE else None

    def current_label(self) -> str:
        return str(self.currentData(LABEL_ROLE) or "")

    def current_description(self) -> str:
        return str(self.currentData(DESCRIPTION_ROLE) or "") if self.current() else ""

    def is_checking(self) -> bool:
        return self._check is not None

    # ------------------------------------------------------------------ choosing a file
    def choose_file(self, path: str) -> None:
        """Load `path` on a worker; select it if it loads, else say why and keep the previous model."""
        self.setCurrentIndex(self._previous)
        self._check = JobWorker(_ModelCheck(path))
        self._check.event.connect(lambda description: self.add_model_file(path, description))
        self._check.failed.connect(lambda message: self.problem.emit(f"Kept the previous model: {message}"))
        self._check.finished.connect(self._on_check_finished)
        self.setEnabled(False)
        self.checking.emit(True)
        self._check.start()

    def _on_check_finished(self) -> None:
        self._check = None
        self.setEnabled(True)
        self.checking.emit(False)

    def _on_activated(self, index: int) -> None:
        if self.itemData(index) != (OPEN_FILE, ""):
            self._previous = index
            return
        self.setCurrentIndex(self._previous)
        path, _ = QFileDialog.getOpenFileName(self, "Open a model", "", weights_file_filter("Models"))
        if path:
            self.choose_file(path)
