"""The upscale queue: one row per image with its state, progress and, once done, its result."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from pathlib import Path

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import QListWidget, QListWidgetItem, QWidget


class State(Enum):
    QUEUED = "Queued"
    RUNNING = "Running"
    DONE = "Done"
    FAILED = "Failed"
    CANCELLED = "Cancelled"


@dataclass(eq=False)
class Entry:
    path: Path
    item: QListWidgetItem
    state: State = State.QUEUED
    detail: str = ""  # percent while running, seconds when done, the reason when failed
    result: np.ndarray | None = None

    def status_text(self) -> str:
        if self.state is State.FAILED:
            return f"Failed: {self.detail}"
        return f"{self.state.value} {self.detail}".strip()


class UpscaleQueue(QListWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.entries: list[Entry] = []
        self.setAlternatingRowColors(True)
        self.setWordWrap(True)
        self.setUniformItemSizes(False)

    def add(self, path: Path) -> Entry:
        entry = Entry(path, QListWidgetItem())
        self.addItem(entry.item)
        self.entries.append(entry)
        self._render(entry)
        return entry

    def set_state(self, entry: Entry, state: State, detail: str = "") -> None:
        entry.state, entry.detail = state, detail
        self._render(entry)

    def _render(self, entry: Entry) -> None:
        entry.item.setText(f"{entry.path.name}\n{entry.status_text()}")
        entry.item.setToolTip(f"{entry.path}\n{entry.status_text()}")
        failed = entry.state is State.FAILED
        entry.item.setForeground(QBrush(QColor("#d9453d")) if failed else QBrush())
        entry.item.setData(Qt.ItemDataRole.UserRole, entry.state.value)

    def with_state(self, *states: State) -> list[Entry]:
        return [entry for entry in self.entries if entry.state in states]

    def current_entry(self) -> Entry | None:
        row = self.currentRow()
        return self.entries[row] if 0 <= row < len(self.entries) else None

    def entry_for(self, path: str | Path) -> Entry:
        return next(entry for entry in self.entries if entry.path == Path(path))
