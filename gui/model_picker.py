"""Which generator upscales: a bundled model, the current training run's weights (read fresh at each
batch, so they follow training without an export step), or a model file the user opens."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QComboBox, QFileDialog, QWidget

from engine.models import bundled_models
from engine.run_folder import BEST, CHECKPOINT

OPEN_FILE = "open-file"
MODEL_FILTER = "Models (*.safetensors *.pth *.pt *.ckpt);;All files (*)"
# label, file in the run folder, which weights
RUN_MODELS = (("latest", CHECKPOINT, "generator"), ("best", BEST, "ema"), ("EMA", CHECKPOINT, "ema"))


class ModelPicker(QComboBox):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._run_dir: str = ""
        self._previous = -1
        self.setPlaceholderText("Choose a model")
        self.setMinimumContentsLength(22)
        self._rebuild()
        self.activated.connect(self._on_activated)

    def _rebuild(self) -> None:
        keep = self.current()
        files = [(self.itemText(i), self.itemData(i)) for i in range(self.count())
                 if self.itemText(i).startswith("File: ")]
        self.blockSignals(True)
        self.clear()
        for name, path in bundled_models().items():
            self.addItem(f"Bundled: {name}", (str(path), "ema"))
        if self._run_dir:
            for label, filename, which in RUN_MODELS:
                self.addItem(f"Current run: {label}", (str(Path(self._run_dir) / filename), which))
        for text, data in files:
            self.addItem(text, data)
        self.insertSeparator(self.count())
        self.addItem("Open model file…", OPEN_FILE)
        usable = [i for i in range(self.count()) if isinstance(self.itemData(i), tuple)]
        index = self.findData(keep) if keep else -1
        self.setCurrentIndex(index if index >= 0 else (usable[0] if usable else -1))
        self._previous = self.currentIndex()
        self.blockSignals(False)

    def set_run_dir(self, run_dir: str) -> None:
        self._run_dir = run_dir
        self._rebuild()

    def add_model_file(self, path: str | Path) -> None:
        data = (str(path), "ema")
        if self.findData(data) < 0:
            self.insertItem(self.count() - 2, f"File: {Path(path).name}", data)
        self.setCurrentIndex(self.findData(data))
        self._previous = self.currentIndex()

    def current(self) -> tuple[str, str] | None:
        """(model source, which weights), or None when nothing usable is selected."""
        data = self.currentData()
        return data if isinstance(data, tuple) else None

    def _on_activated(self, index: int) -> None:
        if self.itemData(index) != OPEN_FILE:
            self._previous = index
            return
        path, _ = QFileDialog.getOpenFileName(self, "Open a model", "", MODEL_FILTER)
        if path:
            self.add_model_file(path)
        else:
            self.setCurrentIndex(self._previous)
