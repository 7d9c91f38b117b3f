"""Which generator upscales: a bundled model, the current training run's weights (read fresh at each
batch, so they follow training without an export step), or a model file the user opens. The bundled
models made for a job come first, named by it as Upscayl names its models ("Photos (fast)", ...;
engine.models.sources' JOB_MODELS), the others by their names. Each entry has a one-line description; a
file is loaded on a worker before it is accepted, so a broken one is refused with its reason when it is
chosen, not when it is first used. What a model file costs on this machine ("about N s per output
megapixel here", in the engine the auto rule picks) is measured on a worker the first time the list is
opened, and kept in the settings for the next launches (engine.upscaling.cost)."""

from __future__ import annotations

import hashlib
from pathlib import Path

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QRect, QSettings, QSize, Qt, Signal
from PySide6.QtGui import QPainter
from PySide6.QtWidgets import (QApplication, QComboBox, QFileDialog, QStyle, QStyledItemDelegate,
                               QStyleOptionViewItem, QWidget)

from engine.models.registry import describe_model, load_model, weights_file_filter
from engine.models.sources import DEFAULT_MODEL, JOB_MODELS, PHOTO_FAST_MODEL, bundled_models
from engine.training.run_folder import BEST, CHECKPOINT
from engine.upscaling.cost import cost_key, describe_cost, seconds_per_megapixel
from gui.common.background import Background
from engine.qt.job_worker import JobWorker

OPEN_FILE = "open-file"
BUNDLED = "Bundled: "
DESCRIPTION_ROLE = Qt.ItemDataRole.UserRole + 1
LABEL_ROLE = Qt.ItemDataRole.UserRole + 2  # the short name a queue row shows
BASE_DESCRIPTION_ROLE = Qt.ItemDataRole.UserRole + 3  # the description without the measured cost
MEASURABLE_ROLE = Qt.ItemDataRole.UserRole + 4  # a model file whose cost here can be measured and kept
COST_GROUP = "model_costs"  # QSettings group: cost key digest -> seconds per output megapixel
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

    def __init__(self, settings: QSettings | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._run_dir = ""
        self._previous = -1
        self._check: JobWorker | None = None
        self._settings = settings
        self._costs = Background("model-cost", self)
        self._costs.done.connect(self._on_cost)
        self._measuring: set[str] = set()
        self.setPlaceholderText("Choose a model")
        self.setMinimumContentsLength(18)
        self.setItemDelegate(TwoLineDelegate(self))
        self._rebuild()
        self.activated.connect(self._on_activated)
        self.currentIndexChanged.connect(lambda _: self.model_changed.emit())

    # ------------------------------------------------------------------ entries
    def _add(self, text: str, data: tuple[str, str], description: str, label: str, row: int | None = None,
             measurable: bool = False) -> None:
        row = self.count() if row is None else row
        self.insertItem(row, text, data)
        self.setItemData(row, description, BASE_DESCRIPTION_ROLE)
        self.setItemData(row, measurable, MEASURABLE_ROLE)
        self.setItemData(row, label, LABEL_ROLE)
        self._show_description(row)

    def _show_description(self, row: int) -> None:
        """The row's description, with its cost here once that has been measured."""
        line = str(self.itemData(row, BASE_DESCRIPTION_ROLE) or "")
        cost = self._known_cost(self.itemData(row)[0]) if self.itemData(row, MEASURABLE_ROLE) else None
        line = f"{line} · {describe_cost(cost)}" if cost is not None else line
        self.setItemData(row, line, DESCRIPTION_ROLE)
        self.setItemData(row, line, Qt.ItemDataRole.ToolTipRole)

    def _rebuild(self) -> None:
        keep = self.current()
        files = [(self.itemText(i), self.itemData(i), self.itemData(i, BASE_DESCRIPTION_ROLE),
                  self.itemData(i, LABEL_ROLE)) for i in range(self.count()) if self.itemText(i).startswith("File: ")]
        self.blockSignals(True)
        self.clear()
        bundled = bundled_models()
        jobs = {name: label for label, name in JOB_MODELS.items() if name in bundled}
        for name in [*jobs, *(name for name in bundled if name not in jobs)]:
            path = bundled[name]
            if name in jobs:
                text, description = jobs[name], f"{name}: {describe_model(path)}"
            else:
                text, description = f"{BUNDLED}{name}", describe_model(path)
            self._add(text, (str(path), "ema"), description, name, measurable=True)
        if self._run_dir:
            for label, filename, which, description in RUN_MODELS:
                self._add(f"Current run: {label}", (str(Path(self._run_dir) / filename), which), description,
                          f"run {label}")
        for text, data, description, label in files:
            self._add(text, data, description, label, measurable=True)
        self._add("Open model file…", (OPEN_FILE, ""), "A .safetensors or .pth model: ours, ESRGAN, SwinIR, …", "")
        default = next((self._find((str(bundled[name]), "ema")) for name in (PHOTO_FAST_MODEL, DEFAULT_MODEL)
                        if name in bundled), -1)
        index = self._find(keep) if keep else -1
        self.setCurrentIndex(index if index >= 0 else max(default, 0) if self.count() > 1 else -1)
        self._previous = self.currentIndex()
        self.blockSignals(False)
        self.model_changed.emit()

    def _find(self, data: tuple[str, str]) -> int:
        """The row holding `data`, compared by value (QComboBox.findData compares a Python tuple by identity)."""
        return next((row for row in range(self.count()) if self.itemData(row) == data), -1)

    def set_run_dir(self, run_dir: str) -> None:
        self._run_dir = run_dir
        self._rebuild()

    def add_model_file(self, path: str | Path, description: str | None = None) -> None:
        """Add and select a file already known to load (the check is `choose_file`)."""
        data = (str(path), "ema")
        if self._find(data) < 0:
            self._add(f"File: {Path(path).name}", data, description or describe_model(path), Path(path).stem,
                      self.count() - 1, measurable=True)
        self.setCurrentIndex(self._find(data))
        self._previous = self.currentIndex()

    def select(self, source: str, which: str) -> bool:
        """Select an entry that is already listed; False when there is none."""
        index = self._find((source, which))
        if index >= 0:
            self.setCurrentIndex(index)
            self._previous = index
        return index >= 0

    # ------------------------------------------------------------------ cost on this machine
    def _cost_setting(self, path: str | Path) -> str:
        return f"{COST_GROUP}/{hashlib.sha1(cost_key(path).encode()).hexdigest()}"

    def _known_cost(self, path: str | Path) -> float | None:
        if self._settings is None:
            return None
        try:
            value = self._settings.value(self._cost_setting(path))
        except OSError:  # the file went away: nothing to say about it
            return None
        try:
            return float(value) if value is not None else None
        except (TypeError, ValueError):
            return None

    def showPopup(self) -> None:  # noqa: N802 - Qt's name
        """Measure, one after the other on a worker, the model files whose cost here is not known yet."""
        if self._settings is not None:
            for row in range(self.count()):
                path = self.itemData(row)[0]
                if (self.itemData(row, MEASURABLE_ROLE) and path not in self._measuring and Path(path).is_file()
                        and self._known_cost(path) is None):
                    self._measuring.add(path)
                    self._costs.submit(path, lambda source=path: seconds_per_megapixel(source))
        super().showPopup()

    def _on_cost(self, path: str, seconds: float) -> None:
        self._measuring.discard(path)
        if self._settings is None or not Path(path).is_file():
            return
        self._settings.setValue(self._cost_setting(path), seconds)
        for row in range(self.count()):
            if self.itemData(row, MEASURABLE_ROLE) and self.itemData(row)[0] == path:
                self._show_description(row)
        if self.current() and self.current()[0] == path:
            self.model_changed.emit()

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
