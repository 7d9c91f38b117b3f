"""The upscale queue: one row per image and per model it is upscaled with, in the order they were added."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QEvent, QItemSelection, QItemSelectionModel, QSize, Signal
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QAbstractItemView, QListWidget, QListWidgetItem, QWidget

from gui.upscale.queue_entry import Entry, State
from gui.upscale.queue_row import QueueRow


class UpscaleQueue(QListWidget):
    """The rows, in the order they were added; each row is a QueueRow drawn from its Entry."""

    open_folder_requested = Signal(object)  # the Entry whose saved file's folder to open

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.entries: list[Entry] = []
        self._rows: dict[int, tuple[QListWidgetItem, QueueRow]] = {}
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.setUniformItemSizes(True)
        self.setSpacing(1)
        self._tint_selection()

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        if event.type() == QEvent.Type.PaletteChange:
            self._tint_selection()

    def _tint_selection(self) -> None:
        """Selected rows get a tint of the highlight colour and a bar at their left, not the full highlight:
        the rows' own labels keep the text colour, so they stay readable in both themes."""
        color = self.palette().color(QPalette.ColorRole.Highlight)
        rgb = f"{color.red()}, {color.green()}, {color.blue()}"
        sheet = (f"QListView::item:selected {{ background: rgba({rgb}, 48); border-left: 3px solid rgb({rgb}); }}"
                 f"QListView::item:hover:!selected {{ background: rgba({rgb}, 16); }}")
        if self.styleSheet() != sheet:  # setting it re-polishes, which must not loop
            self.setStyleSheet(sheet)

    def sizeHint(self) -> QSize:
        return QSize(360, 300)

    def add(self, entry: Entry) -> Entry:
        item = QListWidgetItem()
        row = QueueRow()
        row.open_folder.clicked.connect(lambda: self.open_folder_requested.emit(entry))
        self.addItem(item)
        self.setItemWidget(item, row)
        self._rows[entry.key] = (item, row)
        self.entries.append(entry)
        self.refresh(entry)
        item.setSizeHint(row.sizeHint())
        return entry

    def refresh(self, entry: Entry) -> None:
        item, row = self._rows[entry.key]
        row.show_entry(entry)
        item.setToolTip(str(entry.path))

    def remove(self, entries: list[Entry]) -> None:
        for entry in entries:
            item, _ = self._rows.pop(entry.key)
            self.takeItem(self.row(item))
            self.entries.remove(entry)

    def row_widget(self, entry: Entry) -> QueueRow:
        return self._rows[entry.key][1]

    def select(self, entries: list[Entry]) -> None:
        """Exactly these rows selected (none added to what was), the last one current."""
        selection = QItemSelection()
        for entry in entries:
            index = self.indexFromItem(self._rows[entry.key][0])
            selection.select(index, index)
        flags = QItemSelectionModel.SelectionFlag
        self.selectionModel().setCurrentIndex(self.indexFromItem(self._rows[entries[-1].key][0]), flags.NoUpdate)
        self.selectionModel().select(selection, flags.ClearAndSelect)

    def with_state(self, *states: State) -> list[Entry]:
        return [entry for entry in self.entries if entry.state in states]

    def current_entry(self) -> Entry | None:
        row = self.currentRow()
        return self.entries[row] if 0 <= row < len(self.entries) else None

    def selected_entries(self) -> list[Entry]:
        rows = sorted(self.row(item) for item in self.selectedItems())
        return [self.entries[row] for row in rows]

    def entry_for(self, path: str | Path) -> Entry:
        """The first row of `path`."""
        return next(entry for entry in self.entries if entry.path == Path(path))
