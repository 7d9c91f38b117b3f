"""The Upscale tab: queue images (drop, add, paste), pick a model and device, compare before/after,
save results. Upscaling runs on a worker thread, one batch at a time; images added meanwhile wait
for the next batch."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QGuiApplication, QKeySequence, QShortcut
from PySide6.QtWidgets import (QCheckBox, QComboBox, QFileDialog, QFormLayout, QGroupBox, QHBoxLayout, QLabel,
                               QMessageBox, QPushButton, QSpinBox, QSplitter, QVBoxLayout, QWidget)

from engine import events as ev
from engine.device import available_devices, describe_device, resolve_device
from engine.imageio import ImageReadError, ImageWriteError, read_image
from engine.upscaler import BatchUpscaler, OptionsError, UpscaleOptions, collect_inputs
from engine.worker import JobWorker
from gui.compare_view import CompareView
from gui.drop_zone import DropZone, local_paths
from gui.images import to_qimage
from gui.model_picker import ModelPicker
from gui.result_saving import FORMATS, result_name, save_result, unique_path
from gui.upscale_queue import Entry, State, UpscaleQueue

IMAGE_FILTER = "Images (*.png *.jpg *.jpeg *.webp *.bmp *.tif *.tiff);;All files (*)"


def displayable(pixels: np.ndarray, alpha: np.ndarray | None) -> np.ndarray:
    """read_image's planes (uint8, or float32 for 16-bit) as one uint8 HxWxC array."""
    if pixels.dtype != np.uint8:
        pixels = (np.clip(pixels, 0, 1) * 255 + 0.5).astype(np.uint8)
    if alpha is None:
        return pixels
    if alpha.dtype != np.uint8:
        alpha = (np.clip(alpha, 0, 1) * 255 + 0.5).astype(np.uint8)
    if pixels.shape[2] == 1:
        pixels = np.repeat(pixels, 3, axis=2)
    return np.concatenate([pixels, alpha[..., None]], axis=2)


class UpscalePanel(QWidget):
    busy_changed = Signal(bool)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._worker: JobWorker | None = None
        self._batch: list[Entry] = []
        self._paste_dir = Path(tempfile.mkdtemp(prefix="srgan-studio-paste-"))
        self._pasted = 0
        self._build_layout()
        QShortcut(QKeySequence.StandardKey.Paste, self, activated=self.paste)
        self._update_buttons()

    # ------------------------------------------------------------------ layout
    def _build_layout(self) -> None:
        self.drop_zone = DropZone()
        self.drop_zone.paths_dropped.connect(self.add_paths)
        self.queue = UpscaleQueue()
        self.queue.currentRowChanged.connect(lambda _: self._show_current())
        self.add_button = QPushButton("Add files…")
        self.add_button.clicked.connect(self._choose_files)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(self.cancel)
        self.clear_button = QPushButton("Clear finished")
        self.clear_button.clicked.connect(self._clear_finished)
        queue_buttons = QHBoxLayout()
        for button in (self.add_button, self.cancel_button, self.clear_button):
            queue_buttons.addWidget(button)

        self.model = ModelPicker()
        self.device = QComboBox()
        self.device.addItem(f"Auto ({describe_device(resolve_device('auto'))})", "auto")
        for name in available_devices():
            self.device.addItem(describe_device(resolve_device(name)), name)
        model_form = QFormLayout()
        model_form.addRow("Model", self.model)
        model_form.addRow("Device", self.device)
        model_box = QGroupBox("Model")
        model_box.setLayout(model_form)

        self.message = QLabel(wordWrap=True, visible=False)
        self.message.setProperty("role", "error")
        left = QVBoxLayout()
        left.addWidget(self.drop_zone)
        left.addWidget(self.queue, 1)
        left.addLayout(queue_buttons)
        left.addWidget(model_box)
        left.addWidget(self.message)
        left_widget = QWidget()
        left_widget.setLayout(left)
        left_widget.setMinimumWidth(320)
        left_widget.setMaximumWidth(440)

        self.compare = CompareView()
        self.fit_button = QPushButton("Fit")
        self.fit_button.clicked.connect(self.compare.fit)
        self.actual_button = QPushButton("1:1")
        self.actual_button.clicked.connect(self.compare.actual_size)
        self.smooth = QCheckBox("Smooth “before”", checked=True)
        self.smooth.toggled.connect(self.compare.set_smooth_before)
        self.zoom_label = QLabel("")
        self.zoom_label.setProperty("role", "muted")
        self.zoom_label.setMinimumWidth(56)
        self.compare.zoom_changed.connect(lambda z: self.zoom_label.setText(f"{z * 100:.0f}%"))
        self.format = QComboBox()
        self.format.addItems(list(FORMATS))
        self.quality = QSpinBox(minimum=1, maximum=100, value=95, suffix=" quality")
        self.save_button = QPushButton("Save…")
        self.save_button.setProperty("role", "primary")
        self.save_button.clicked.connect(self.save_current)
        self.save_all_button = QPushButton("Save all…")
        self.save_all_button.clicked.connect(self.save_all)
        view_bar = QHBoxLayout()
        for widget in (self.fit_button, self.actual_button, self.zoom_label, self.smooth):
            view_bar.addWidget(widget)
        view_bar.addStretch(1)
        for widget in (self.format, self.quality, self.save_button, self.save_all_button):
            view_bar.addWidget(widget)
        right = QVBoxLayout()
        right.addWidget(self.compare, 1)
        right.addLayout(view_bar)
        right_widget = QWidget()
        right_widget.setLayout(right)

        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(left_widget)
        splitter.addWidget(right_widget)
        splitter.setStretchFactor(1, 1)
        QHBoxLayout(self).addWidget(splitter)

    def _update_buttons(self) -> None:
        self.cancel_button.setEnabled(self.is_running() or bool(self.queue.with_state(State.QUEUED)))
        has_result = bool(self.queue.with_state(State.DONE))
        current = self.queue.current_entry()
        self.save_button.setEnabled(current is not None and current.result is not None)
        self.save_all_button.setEnabled(has_result)

    def _show_message(self, text: str) -> None:
        self.message.setText(text)
        self.message.setVisible(bool(text))

    # ------------------------------------------------------------------ adding work
    def set_run_dir(self, run_dir: str) -> None:
        self.model.set_run_dir(run_dir)

    def add_paths(self, paths: list[str]) -> None:
        """Queue files and the images inside folders; start a batch unless one is running."""
        for item in collect_inputs(paths, keep_tree=False):
            self.queue.add(item.path)
        self._start_next_batch()
        self._update_buttons()

    def _choose_files(self) -> None:
        files, _ = QFileDialog.getOpenFileNames(self, "Add images", "", IMAGE_FILTER)
        if files:
            self.add_paths(files)

    def paste(self) -> None:
        """Ctrl+V: file URLs are queued as files; image data is saved to a temporary PNG first."""
        mime = QGuiApplication.clipboard().mimeData()
        paths = local_paths(mime) if mime is not None else []
        if paths:
            self.add_paths(paths)
            return
        image = QGuiApplication.clipboard().image()
        if image.isNull():
            self._show_message("The clipboard holds no image and no image files.")
            return
        self._pasted += 1
        path = self._paste_dir / f"pasted-{self._pasted}.png"
        if not image.save(str(path), "PNG"):
            self._show_message(f"Could not store the pasted image in {self._paste_dir}.")
            return
        self.add_paths([str(path)])

    # ------------------------------------------------------------------ batches
    def is_running(self) -> bool:
        return self._worker is not None

    def _start_next_batch(self) -> None:
        if self.is_running():
            return
        pending = self.queue.with_state(State.QUEUED)
        if not pending:
            return
        model = self.model.current()
        if model is None:
            self._show_message("Choose a model to upscale with (Model ▸ Open model file…).")
            return
        try:
            options = UpscaleOptions(model=model[0], which=model[1], device=self.device.currentData(), out_dir=None,
                                     return_image=True)
        except OptionsError as exc:
            self._show_message(str(exc))
            return
        self._show_message("")
        self._batch = pending
        self._worker = JobWorker(BatchUpscaler([str(entry.path) for entry in pending], options))
        self._worker.event.connect(self._on_event)
        self._worker.failed.connect(self._on_batch_failed)
        self._worker.finished.connect(self._on_batch_finished)
        self._worker.start()
        self.busy_changed.emit(True)

    def cancel(self) -> None:
        """Stop the running image at its next tile; nothing queued is started."""
        for entry in self.queue.with_state(State.QUEUED):
            self.queue.set_state(entry, State.CANCELLED)
        if self._worker is not None:
            self._worker.request_stop()
        self._update_buttons()

    def _on_event(self, event: object) -> None:
        if isinstance(event, ev.ItemStarted):
            self.queue.set_state(self._batch[event.index], State.RUNNING, "0%")
        elif isinstance(event, ev.TileProgress):
            self.queue.set_state(self._batch[event.index], State.RUNNING, f"{100 * event.done // event.total}%")
        elif isinstance(event, ev.ItemDone):
            entry = self._batch[event.index]
            entry.result = event.image
            self.queue.set_state(entry, State.DONE, f"({event.seconds:.1f} s)")
            if self.queue.current_entry() is None or self.queue.current_entry().result is None:
                self.queue.setCurrentRow(self.queue.entries.index(entry))
            self._update_buttons()
        elif isinstance(event, ev.ItemFailed):
            self.queue.set_state(self._batch[event.index], State.FAILED, event.message)
        elif isinstance(event, ev.BatchDone) and event.cancelled:
            for entry in self._batch:
                if entry.state in (State.QUEUED, State.RUNNING):
                    self.queue.set_state(entry, State.CANCELLED)

    def _on_batch_failed(self, message: str) -> None:
        """The whole batch could not run (e.g. the model did not load): say so on every image it held."""
        self._show_message(message)
        for entry in self._batch:
            if entry.state in (State.QUEUED, State.RUNNING):
                self.queue.set_state(entry, State.FAILED, f"not upscaled: {message}")

    def _on_batch_finished(self) -> None:
        self._worker = None
        self._batch = []
        self._update_buttons()
        self.busy_changed.emit(False)
        self._start_next_batch()

    def _clear_finished(self) -> None:
        for entry in self.queue.with_state(State.DONE, State.FAILED, State.CANCELLED):
            self.queue.takeItem(self.queue.row(entry.item))
            self.queue.entries.remove(entry)
        self._show_current()
        self._update_buttons()

    # ------------------------------------------------------------------ viewing and saving
    def _show_current(self) -> None:
        entry = self.queue.current_entry()
        self._update_buttons()
        if entry is None or entry.result is None:
            self.compare.clear()
            return
        try:
            original = read_image(entry.path)
        except ImageReadError as exc:
            self._show_message(str(exc))
            return
        before = to_qimage(displayable(original.pixels, original.alpha))
        self.compare.set_images(before, to_qimage(entry.result))

    def save_current(self) -> None:
        entry = self.queue.current_entry()
        if entry is None or entry.result is None:
            return
        fmt = self.format.currentText()
        suggested = str(entry.path.with_name(result_name(entry.path, fmt)))
        path, _ = QFileDialog.getSaveFileName(self, "Save result", suggested, f"{fmt.upper()} (*.{fmt})",
                                              options=QFileDialog.Option.DontConfirmOverwrite)
        if not path:
            return
        target = Path(path)
        overwrite = False
        if target.exists():
            answer = QMessageBox.question(self, "Replace file?", f"{target.name} already exists. Replace it?")
            if answer != QMessageBox.StandardButton.Yes:
                return
            overwrite = True
        self._save(entry, target, overwrite)

    def save_all(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Save all results to")
        if folder:
            self.save_all_to(Path(folder))

    def save_all_to(self, folder: Path) -> list[Path]:
        """Every finished result into `folder`; a name already taken becomes 'name (1).ext'."""
        fmt = self.format.currentText()
        saved = []
        for entry in self.queue.with_state(State.DONE):
            target = unique_path(folder / result_name(entry.path, fmt))
            if self._save(entry, target, overwrite=False):
                saved.append(target)
        return saved

    def _save(self, entry: Entry, target: Path, overwrite: bool) -> bool:
        try:
            fmt = None if target.suffix else self.format.currentText()  # a typed suffix wins
            save_result(entry.result, entry.path, target, fmt, self.quality.value(), overwrite=overwrite)
        except (ImageWriteError, ValueError, OSError) as exc:
            self._show_message(f"Could not save {target.name}: {exc}")
            return False
        self._show_message("")
        return True
