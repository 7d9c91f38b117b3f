"""The runs folder as a list: each run's name, preset, progress, best score and when it last saved.

Selecting a run makes it the one the Train tab shows (curves and samples, without resuming it) and the
one Resume continues. Below the list: the selected run's folder, Open folder and Export model…
Checkpoints are read on a worker thread and kept while their file is unchanged.
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

from PySide6.QtCore import QSettings, Qt, Signal
from PySide6.QtWidgets import (QHBoxLayout, QHeaderView, QLabel, QMenu, QPushButton, QTreeWidget, QTreeWidgetItem,
                               QVBoxLayout, QWidget)

from engine.errors import CheckpointError
from engine.training.run_folder import RunFolder
from engine.training.run_summary import RunSummary, read_run, run_folders
from gui.common.background import Background
from gui.common.open_folder import open_folder
from gui.train.model_export import export_choices, export_model
from gui.common.path_field import TailLineEdit

COLUMNS = ("Run", "Preset", "Steps", "Best dB", "Saved")
PATH_ROLE = Qt.ItemDataRole.UserRole
Listing = list[tuple[Path, "RunSummary | str"]]


def scan(base: Path, known: dict[Path, tuple[float, RunSummary]]) -> Listing:
    """Every run under `base`, newest first: its summary (re-read only when its checkpoint changed), or
    why it cannot be read."""
    listing: Listing = []
    for folder in run_folders(base):
        saved = RunFolder(folder).checkpoint.stat().st_mtime
        if folder in known and known[folder][0] == saved:
            listing.append((folder, known[folder][1]))
            continue
        try:
            listing.append((folder, read_run(folder)))
        except (CheckpointError, OSError) as exc:
            listing.append((folder, str(exc)))
    return listing


def when_saved(timestamp: float, today: date | None = None) -> str:
    """Short enough for a narrow column: the time for today's saves, else the day."""
    moment = datetime.fromtimestamp(timestamp)
    return moment.strftime("%H:%M") if moment.date() == (today or date.today()) else moment.strftime("%b %d")


def row_texts(summary: RunSummary) -> list[str]:
    best = f"{summary.best_psnr:.2f}" if summary.best_psnr is not None else "–"
    return [summary.name, summary.config.preset, f"{summary.step}/{summary.config.steps}", best,
            when_saved(summary.modified)]


class RunList(QWidget):
    selection_changed = Signal(object)  # the selected run's folder (Path), or None
    scanned = Signal()

    def __init__(self, runs_dir: Path, settings: QSettings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._runs_dir, self._settings = runs_dir, settings
        self._summaries: dict[Path, tuple[float, RunSummary]] = {}
        self._wanted: Path | None = None  # select this run once a scan lists it
        self.tree = QTreeWidget(rootIsDecorated=False, uniformRowHeights=True, alternatingRowColors=True)
        self.tree.setHeaderLabels(list(COLUMNS))
        self.tree.headerItem().setToolTip(3, "Best validation PSNR (dB)")
        self.tree.headerItem().setToolTip(4, "When the run last saved a checkpoint")
        header = self.tree.header()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)  # the name gives way (elided in the middle)
        self.tree.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.tree.currentItemChanged.connect(lambda *_: self._on_selected())
        self.path = TailLineEdit(readOnly=True, placeholderText="No run selected")
        self.open_button = QPushButton("Open folder")
        self.open_button.clicked.connect(self.open_folder)
        self.export_button = QPushButton("Export model…")
        self.export_menu = QMenu(self.export_button)
        self.export_menu.aboutToShow.connect(self._fill_export_menu)
        self.export_button.setMenu(self.export_menu)
        self.refresh_button = QPushButton("Refresh")
        self.refresh_button.clicked.connect(self.refresh)
        self.message = QLabel(wordWrap=True)
        self.message.setProperty("role", "muted")
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)  # paths can be copied
        buttons = QHBoxLayout()
        for button in (self.open_button, self.export_button):
            buttons.addWidget(button)
        buttons.addStretch(1)
        buttons.addWidget(self.refresh_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.tree, 1)
        layout.addWidget(self.path)
        layout.addLayout(buttons)
        layout.addWidget(self.message)
        self._background = Background("run-list", self)
        self._background.done.connect(self._on_scanned)
        self._update_buttons()

    # ------------------------------------------------------------------ listing
    def refresh(self) -> None:
        base, known = self._runs_dir, dict(self._summaries)
        self._background.submit(base, lambda: scan(base, known))

    def _on_scanned(self, _key: object, listing: Listing) -> None:
        selected = self._wanted or self.selected_path()
        self.tree.blockSignals(True)
        self.tree.clear()
        for folder, found in listing:
            item = QTreeWidgetItem(row_texts(found) if isinstance(found, RunSummary) else
                                   [folder.name, "", "", "", "unreadable"])
            item.setData(0, PATH_ROLE, str(folder))
            item.setToolTip(0, str(folder) if isinstance(found, RunSummary) else found)
            if isinstance(found, RunSummary):
                item.setToolTip(4, datetime.fromtimestamp(found.modified).strftime("%Y-%m-%d %H:%M"))
            self.tree.addTopLevelItem(item)
            if isinstance(found, RunSummary):
                self._summaries[folder] = (found.modified, found)
        self.tree.blockSignals(False)
        self._wanted = None
        self.select(selected, quiet=True)
        self.scanned.emit()

    def _item(self, folder: Path) -> QTreeWidgetItem | None:
        for index in range(self.tree.topLevelItemCount()):
            item = self.tree.topLevelItem(index)
            if Path(item.data(0, PATH_ROLE)) == folder:
                return item
        return None

    def select(self, folder: Path | None, quiet: bool = False) -> None:
        """Make `folder` the selected run (once a scan lists it, if it is not listed yet)."""
        item = self._item(folder) if folder is not None else None
        if folder is not None and item is None:
            self._wanted = folder
        if quiet:
            self.tree.blockSignals(True)
        self.tree.setCurrentItem(item)
        self.tree.blockSignals(False)
        self._show_selection()

    def show_live(self, folder: Path, preset: str, step: int, total: int) -> None:
        """The running run's row, kept current from its events (listed even before its first checkpoint)."""
        item = self._item(folder)
        if item is None:
            item = QTreeWidgetItem([folder.name, preset, "", "–", "running"])
            item.setData(0, PATH_ROLE, str(folder))
            self.tree.insertTopLevelItem(0, item)
        item.setText(2, f"{step}/{total}")

    # ------------------------------------------------------------------ the selected run
    def selected_path(self) -> Path | None:
        item = self.tree.currentItem()
        return Path(item.data(0, PATH_ROLE)) if item is not None else None

    def summary(self, folder: Path | None) -> RunSummary | None:
        return self._summaries[folder][1] if folder in self._summaries else None

    def _on_selected(self) -> None:
        self._show_selection()
        self.selection_changed.emit(self.selected_path())

    def _show_selection(self) -> None:
        folder = self.selected_path()
        self.path.setText(str(folder) if folder else "")
        self.message.setText("")
        self._update_buttons()

    def _update_buttons(self) -> None:
        folder = self.selected_path()
        self.open_button.setEnabled(folder is not None and folder.is_dir())
        self.export_button.setEnabled(folder is not None and bool(export_choices(folder)))

    def open_folder(self) -> None:
        folder = self.selected_path()
        if folder is not None:
            self.message.setText(open_folder(folder))

    def _fill_export_menu(self) -> None:
        self.export_menu.clear()
        folder = self.selected_path()
        for label, source in export_choices(folder) if folder else []:
            self.export_menu.addAction(label, lambda s=source, f=folder: self.export(f, s))

    def export(self, folder: Path, source: Path) -> Path | None:
        written = export_model(self, source, folder.name, self._settings)
        if written is not None:
            self.message.setText(f"Exported to {written}")
        return written
