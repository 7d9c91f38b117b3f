"""The Upscale tab: queue images (drop files or folders, add, paste images or paths), pick a model and
output size, compare before/after (or two results of one image, A/B), save results into the output folder
(or one where you like).

Upscaling and saving run on worker threads; results live in a temporary result store on disk, so the
window holds only thumbnails and the previews of the row on screen."""

from __future__ import annotations

from functools import partial
from pathlib import Path

from PySide6.QtCore import QSettings, QSize, QStandardPaths, Qt, Signal
from PySide6.QtGui import QGuiApplication, QKeySequence, QShortcut
from PySide6.QtWidgets import (QCheckBox, QFileDialog, QHBoxLayout, QLabel, QMessageBox, QPushButton, QSplitter,
                               QVBoxLayout, QWidget)

from engine.upscaling.batch import InputItem, collect_inputs, output_name
from gui.common.background import Background
from gui.common.open_folder import open_folder
from gui.upscale.batch_runner import BatchRunner
from gui.upscale.clipboard_paths import clipboard_paths
from gui.upscale.compare_view import CompareView, ViewImage
from gui.upscale.drop_zone import DropZone
from gui.common.images import packed_qimage, to_qimage
from gui.upscale.queue_entry import Entry, RunSpec, State
from gui.upscale.result_saving import Conflict
from gui.upscale.result_store import ResultStore, StoredImage
from gui.upscale.save_controller import SaveController
from gui.upscale.queue import UpscaleQueue
from gui.upscale.settings import UpscaleSettingsBox

IMAGE_FILTER = "Images (*.png *.jpg *.jpeg *.webp *.bmp *.tif *.tiff);;All files (*)"


def view_image(stored: StoredImage) -> ViewImage:
    """A stored image for the compare view: its preview now, its full size memory-mapped when zoomed in."""
    full = None if stored.preview_is_full_size() else (lambda: to_qimage(stored.load_full()))
    return ViewImage(packed_qimage(stored.load_preview(), stored.alpha), QSize(stored.width, stored.height), full)


def ab_labels(a: Entry, b: Entry) -> tuple[str, str]:
    """'A: model' and 'B: model', with each one's scale when the two differ."""
    with_scale = a.scale_text() != b.scale_text()

    def label(side: str, entry: Entry) -> str:
        return f"{side}: {entry.spec.model_label}" + (f" {entry.scale_text()}" if with_scale else "")

    return label("A", a), label("B", b)


def same_input(a: Entry, b: Entry) -> bool:
    """Two rows of one image: the same file, read at the same size (so it was not replaced in between)."""
    return (a.path, a.in_size) == (b.path, b.in_size)


def result_store_parent() -> Path | None:
    """The cache folder (on disk, where /tmp may be RAM), or the system's temporary folder."""
    cache = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.CacheLocation)
    return Path(cache) if cache else None


class UpscalePanel(QWidget):
    busy_changed = Signal(bool)

    def __init__(self, settings: QSettings | None = None, parent: QWidget | None = None,
                 store: ResultStore | None = None) -> None:
        super().__init__(parent)
        self.store = store or ResultStore(result_store_parent())
        self.runner = BatchRunner(self.store, self)
        self.saver = SaveController(self)
        self.scanner = Background("folder-scan", self)  # folders are searched off the GUI thread
        self._user_picked = False  # the person chose a row during this batch: do not jump to new results
        self._selecting = False
        self._rerun_of: dict[int, Entry] = {}  # a row's key -> the row it was run again from
        self.settings = UpscaleSettingsBox(settings if settings is not None else QSettings())
        self.model = self.settings.model
        self._build_layout()
        self._connect()
        QShortcut(QKeySequence.StandardKey.Paste, self, activated=self.paste)
        self._update_buttons()

    # ------------------------------------------------------------------ layout
    def _build_layout(self) -> None:
        self.drop_zone = DropZone()
        self.queue = UpscaleQueue()
        self.add_button = QPushButton("Add files…")
        self.rerun_button = QPushButton("Run again")
        self.rerun_button.setToolTip("Upscale the selected rows again with the model and size chosen below")
        self.cancel_button = QPushButton("Cancel")
        self.clear_button = QPushButton("Clear")
        self.clear_button.setToolTip("Remove the finished, failed and cancelled rows (saved files stay)")
        queue_buttons = QHBoxLayout()
        for button in (self.add_button, self.rerun_button, self.cancel_button, self.clear_button):
            queue_buttons.addWidget(button)
        self.message = QLabel(wordWrap=True, visible=False)
        self.message.setProperty("role", "error")
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)  # paths can be copied
        left_widget = QWidget(minimumWidth=360, maximumWidth=480)
        left = QVBoxLayout(left_widget)
        left.setContentsMargins(0, 0, 0, 0)
        left.addWidget(self.drop_zone)
        left.addWidget(self.queue, 1)
        left.addLayout(queue_buttons)
        left.addWidget(self.settings)
        left.addWidget(self.message)

        self.compare = CompareView()
        self.fit_button = QPushButton("Fit")
        self.actual_button = QPushButton("1:1")
        self.smooth = QCheckBox("Smooth “before”", checked=True)
        self.ab_button = QPushButton("Compare A/B", checkable=True)
        self.ab_button.setToolTip("Wipe between two results of one image: Ctrl+click their two rows first")
        self.zoom_label = QLabel("")
        self.zoom_label.setProperty("role", "muted")
        self.zoom_label.setMinimumWidth(48)
        self.save_button = QPushButton("Save as…")
        self.save_all_button = QPushButton("Save all")
        self.save_all_button.setProperty("role", "primary")
        self.save_all_button.setToolTip("Save every result not saved yet into the output folder")
        view_bar = QHBoxLayout()
        for widget in (self.fit_button, self.actual_button, self.zoom_label, self.smooth, self.ab_button):
            view_bar.addWidget(widget)
        view_bar.addStretch(1)
        view_bar.addWidget(self.save_button)
        view_bar.addWidget(self.save_all_button)
        right_widget = QWidget()
        right = QVBoxLayout(right_widget)
        right.setContentsMargins(0, 0, 0, 0)
        right.addWidget(self.compare, 1)
        right.addLayout(view_bar)

        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(left_widget)
        splitter.addWidget(right_widget)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([440, 1000])
        QHBoxLayout(self).addWidget(splitter)

    def _connect(self) -> None:
        # A message answers the action before: the next one clears it (before it runs, so it can say its own).
        for button in (self.add_button, self.rerun_button, self.cancel_button, self.clear_button, self.fit_button,
                       self.actual_button, self.save_button, self.save_all_button):
            button.clicked.connect(lambda: self._show_message(""))
        self.drop_zone.paths_dropped.connect(self.add_paths)
        self.queue.currentRowChanged.connect(lambda _: self._on_current_changed())
        self.queue.itemSelectionChanged.connect(self._on_selection_changed)
        self.queue.open_folder_requested.connect(self._open_folder)
        self.add_button.clicked.connect(self._choose_files)
        self.rerun_button.clicked.connect(self.rerun_selected)
        self.cancel_button.clicked.connect(self.cancel)
        self.clear_button.clicked.connect(self._clear_finished)
        self.fit_button.clicked.connect(self.compare.fit)
        self.actual_button.clicked.connect(self.compare.actual_size)
        self.smooth.toggled.connect(self.compare.set_smooth_before)
        self.ab_button.toggled.connect(self._on_ab_toggled)
        self.compare.zoom_changed.connect(lambda z: self.zoom_label.setText(f"{z * 100:.0f}%"))
        self.save_button.clicked.connect(self.save_current)
        self.save_all_button.clicked.connect(self.save_all)
        self.settings.problem.connect(self._show_message)
        self.settings.model.model_changed.connect(self._update_buttons)
        for source in (self.runner, self.saver):
            source.entry_changed.connect(self._on_entry_changed)
            source.busy_changed.connect(self._on_busy_changed)
        self.runner.entry_done.connect(self._on_entry_done)
        self.runner.problem.connect(self._show_message)
        self.runner.engine_chosen.connect(self._on_engine_chosen)
        self.scanner.done.connect(self._add_folder_items)
        self.scanner.failed.connect(lambda key, reason: self._show_message(f"Cannot search {key[0]}: {reason}"))

    def _update_buttons(self) -> None:
        self.drop_zone.set_compact(bool(self.queue.entries))
        cancelling = self.runner.is_cancelling()
        self.cancel_button.setText("Cancelling…" if cancelling else "Cancel")
        self.cancel_button.setEnabled(not cancelling and (self.runner.is_running()
                                                          or bool(self.queue.with_state(State.QUEUED))))
        current = self.queue.current_entry()
        self.save_button.setEnabled(current is not None and current.result is not None)
        self.save_all_button.setEnabled(bool(self._unsaved()))
        self.rerun_button.setEnabled(bool(self.queue.selected_entries()) and self.settings.run_spec() is not None)
        self.ab_button.setEnabled(self.ab_button.isChecked() or self._ab_pair() is not None)
        finished = self.queue.with_state(State.DONE, State.FAILED, State.CANCELLED)
        self.clear_button.setEnabled(any(not entry.saving for entry in finished))

    def _show_message(self, text: str) -> None:
        self.message.setText(text)
        self.message.setVisible(bool(text))

    def set_run_dir(self, run_dir: str) -> None:
        self.settings.model.set_run_dir(run_dir)

    def is_running(self) -> bool:
        return self.runner.is_running() or self.saver.is_running() or self.scanner.is_busy()

    # ------------------------------------------------------------------ adding work
    def add_paths(self, paths: list[str]) -> None:
        """Queue files, and the images inside folders (their results keep the folder's tree in the output
        folder; the folder is searched on a worker thread and its images queued when found); start a batch
        unless one is running."""
        spec = self.settings.run_spec()
        if spec is None:
            self._show_message("Choose a model to upscale with (Model ▸ Open model file…).")
            return
        self._show_message("")
        exclude = self.settings.folder().resolve()
        for path in map(Path, paths):
            if path.is_dir():
                self.scanner.submit((path, spec), partial(collect_inputs, [path], keep_tree=True, exclude=exclude))
            else:
                self.queue.add(Entry(path, spec))
        self._run_next()

    def _add_folder_items(self, key: tuple[Path, RunSpec], items: list[InputItem]) -> None:
        folder, spec = key
        for item in items:
            self.queue.add(Entry(item.path, spec, sub_dir=Path(folder.name) / item.sub_dir))
        if not items:
            self._show_message(f"No images in the folder {folder}.")
        self._run_next()

    def _choose_files(self) -> None:
        files, _ = QFileDialog.getOpenFileNames(self, "Add images", "", IMAGE_FILTER)
        if files:
            self.add_paths(files)

    def paste(self) -> None:
        """Ctrl+V: copied files, a copied path (plain text), or image data (kept as a temporary PNG)."""
        paths = clipboard_paths(QGuiApplication.clipboard(), self.store.folder)
        if paths:
            self.add_paths(paths)
        else:
            self._show_message("The clipboard holds no image, no image file and no path to one.")

    def rerun_selected(self) -> None:
        """Queue the selected rows' images again (each image once), with the model and size chosen now, as new
        rows; each new row remembers the row it was run again from, to be compared with it."""
        spec = self.settings.run_spec()
        if spec is None:
            return
        sources: dict[tuple[Path, Path | None], Entry] = {}
        for entry in self.queue.selected_entries():
            sources.setdefault((entry.path, entry.sub_dir), entry)
        for source in sources.values():
            self._rerun_of[self.queue.add(Entry(source.path, spec, sub_dir=source.sub_dir)).key] = source
        self._run_next()

    def _run_next(self) -> None:
        if self.runner.run(self.queue.with_state(State.QUEUED)):
            self._user_picked = False
            self.saver.new_batch()
        self._update_buttons()

    def cancel(self) -> None:
        """Stop the running image now (its row says "Cancelling…" until the engine has let go); nothing
        queued is started."""
        self.runner.cancel(self.queue.with_state(State.QUEUED))
        self._update_buttons()

    def _clear_finished(self) -> None:
        finished = [entry for entry in self.queue.with_state(State.DONE, State.FAILED, State.CANCELLED)
                    if not entry.saving]
        self.queue.remove(finished)
        for entry in finished:
            for stored in {entry.before, entry.result} - {None}:
                self.store.discard(stored)
        live = {entry.key for entry in self.queue.entries}
        self._rerun_of = {key: source for key, source in self._rerun_of.items() if {key, source.key} <= live}
        self._show_current()

    # ------------------------------------------------------------------ progress
    def _on_entry_changed(self, entry: Entry) -> None:
        if entry in self.queue.entries:
            self.queue.refresh(entry)
        self._update_buttons()

    def _on_entry_done(self, entry: Entry) -> None:
        """Show the new result unless the person picked a row meanwhile; a row run again is selected with the
        row it came from, so Compare A/B is one click away (and an A/B on shows the new pair)."""
        current = self.queue.current_entry()
        if not self._user_picked or current is None or current.result is None:
            source = self._rerun_of.get(entry.key)
            rows = [source, entry] if source in self.queue.entries and source.result is not None else [entry]
            self._selecting = True
            self.queue.select(rows)
            self._selecting = False
            self._show_current()
        if self.settings.auto_save.isChecked() or entry.sub_dir is not None:
            fmt = self.settings.file_format()
            self.saver.save([(entry, self._target(entry, fmt), fmt)], self.settings.quality.value(), auto=True)

    def _on_engine_chosen(self, description: str, note: str) -> None:
        self.settings.show_engine(description)
        if note:
            self._show_message(note)

    def _on_busy_changed(self, _busy: bool) -> None:
        if not self.runner.is_running():
            self._run_next()
        self._update_buttons()
        self.busy_changed.emit(self.is_running())

    # ------------------------------------------------------------------ viewing
    def _on_current_changed(self) -> None:
        if not self._selecting:
            self._user_picked = True
        self._show_current()

    def _on_selection_changed(self) -> None:
        """Another selection by the person ends an A/B (the view goes back to before/after of the current row)
        and the message about the one before."""
        if not self._selecting:
            self._show_message("")
            self.ab_button.setChecked(False)
        elif self._ab_pair() is None:
            self.ab_button.setChecked(False)
        self._update_buttons()

    def _ab_pair(self) -> tuple[Entry, Entry] | None:
        """The two selected rows, earlier first, when exactly two are selected and both have a result."""
        selected = self.queue.selected_entries()
        if len(selected) != 2 or any(entry.result is None for entry in selected):
            return None
        return selected[0], selected[1]

    def _on_ab_toggled(self, on: bool) -> None:
        """Wipe between the two selected results, or back to before/after; two different images are refused
        in words, since an A/B of unrelated pictures says nothing about the models."""
        pair = self._ab_pair()
        if on and pair is not None and not same_input(*pair):
            self.ab_button.setChecked(False)
            self._show_message(f"Cannot compare A/B: {pair[0].path.name} and {pair[1].path.name} are different "
                               "inputs. Select two results of one image.")
            return
        self._show_message("")
        self.smooth.setEnabled(not on)  # both sides of an A/B are results, drawn alike
        self._show_current()

    def _show_current(self) -> None:
        self._update_buttons()
        pair = self._ab_pair() if self.ab_button.isChecked() else None
        if pair is not None:
            a, b = pair
            self.compare.set_images(view_image(a.result), view_image(b.result), ab_labels(a, b), left_is_input=False)
            return
        entry = self.queue.current_entry()
        if entry is None or entry.result is None or entry.before is None:
            self.compare.clear()
            return
        self.compare.set_images(view_image(entry.before), view_image(entry.result))

    # ------------------------------------------------------------------ saving
    def _target(self, entry: Entry, fmt: str) -> Path:
        """Where a result goes in the output folder (a dropped folder's tree is kept); a row with a result
        knows both sizes, from the engine."""
        name = output_name(entry.path, entry.in_size[0], entry.out_size[0], fmt, entry.spec.model)
        return self.settings.folder() / (entry.sub_dir or Path()) / name

    def _unsaved(self) -> list[Entry]:
        return [entry for entry in self.queue.with_state(State.DONE)
                if entry.saved_to is None and not entry.saving]

    def unsaved_count(self) -> int:
        """Results done and not saved (nor being saved): what closing the window would lose."""
        return len(self._unsaved())

    def save_all(self) -> None:
        """Every result not saved yet into the output folder; taken names are asked about once."""
        fmt = self.settings.file_format()
        targets = [(entry, self._target(entry, fmt), fmt) for entry in self._unsaved()]
        self.saver.save(targets, self.settings.quality.value())

    def save_current(self) -> None:
        entry = self.queue.current_entry()
        if entry is None or entry.result is None:
            return
        fmt = self.settings.file_format()
        suggested = str(self._target(entry, fmt))
        path, _ = QFileDialog.getSaveFileName(self, "Save result", suggested, f"{fmt.upper()} (*.{fmt})",
                                              options=QFileDialog.Option.DontConfirmOverwrite)
        if not path:
            return
        target = Path(path)
        policy = None
        if target.exists():
            answer = QMessageBox.question(self, "Replace file?", f"{target.name} already exists. Replace it?")
            if answer != QMessageBox.StandardButton.Yes:
                return
            policy = Conflict.REPLACE
        self.saver.save([(entry, target, None if target.suffix else fmt)], self.settings.quality.value(),
                        policy=policy)

    def _open_folder(self, entry: Entry) -> None:
        if entry.saved_to is not None:
            self._show_message(open_folder(entry.saved_to.parent))
