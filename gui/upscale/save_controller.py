"""Saving from the window: results are written by a SaveJob on a worker thread, one job at a time, and
each row says "Saving…", then where its file went (or why it could not be written). A name that is taken
is asked about once per request (replace, keep both, skip); for auto-save, once per upscale batch."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QMessageBox, QWidget

from engine import events as ev
from engine.qt.job_worker import JobWorker
from gui.upscale.queue_entry import Entry
from gui.upscale.result_saving import Conflict, SaveJob, SaveRequest, conflicting, resolve

NAMES_SHOWN = 5  # taken names listed in the question; the rest are counted


def ask_conflict(parent: QWidget, clashes: list[Path], for_batch: bool) -> Conflict | None:
    """Ask what to do with taken names; None = save nothing."""
    names = ", ".join(path.name for path in clashes[:NAMES_SHOWN])
    more = f" and {len(clashes) - NAMES_SHOWN} more" if len(clashes) > NAMES_SHOWN else ""
    if len(clashes) == 1:
        text = f"{clashes[0].name} already exists in {clashes[0].parent}."
    else:
        text = f"{len(clashes)} files already exist in {clashes[0].parent}: {names}{more}."
    box = QMessageBox(QMessageBox.Icon.Question, "Files already exist", text, parent=parent)
    scope = " This answer holds for the rest of this batch." if for_batch else ""
    box.setInformativeText("Replace the existing files, keep both (the new files get a number) or skip these "
                           f"results?{scope}")
    buttons = {box.addButton(choice.value, QMessageBox.ButtonRole.AcceptRole): choice for choice in Conflict}
    box.addButton(QMessageBox.StandardButton.Cancel)
    box.setDefaultButton(next(b for b, choice in buttons.items() if choice is Conflict.KEEP_BOTH))
    box.exec()
    return buttons.get(box.clickedButton())


class SaveController(QObject):
    busy_changed = Signal(bool)
    entry_changed = Signal(object)  # an Entry whose saving state changed

    def __init__(self, parent: QWidget) -> None:
        super().__init__(parent)
        self._window = parent
        self._worker: JobWorker | None = None
        self._job: list[SaveRequest] = []
        self._pending: list[SaveRequest] = []
        self._claimed: set[Path] = set()  # targets queued or being written
        self._entries: dict[int, Entry] = {}
        self._batch_policy: Conflict | None = None
        self._asking = False
        self._deferred: list[tuple[list[tuple[Entry, Path, str | None]], int, bool]] = []

    def is_running(self) -> bool:
        return self._worker is not None

    def new_batch(self) -> None:
        """Auto-save asks again about taken names in the next upscale batch."""
        self._batch_policy = None

    def save(self, targets: list[tuple[Entry, Path, str | None]], quality: int, auto: bool = False,
             policy: Conflict | None = None) -> None:
        """Write each entry's result to its target (format from the string, or the suffix when None).
        Taken names are asked about unless `policy` answers already."""
        if self._asking:  # a question is open; its answer may apply to these too
            self._deferred.append((targets, quality, auto))
            return
        requests = [SaveRequest(entry.key, entry.result, target, fmt, quality, entry.icc, entry.exif)
                    for entry, target, fmt in targets if entry.result is not None]
        clashes = conflicting(requests, self._claimed)
        if clashes and policy is None:
            policy = self._batch_policy if auto else None
            if policy is None:
                policy = self._ask(clashes, auto)
                if policy is None:
                    return
                if auto:
                    self._batch_policy = policy
        planned = resolve(requests, policy, self._claimed)
        for entry, _, _ in targets:
            self._entries[entry.key] = entry
        for request in planned:
            entry = self._entries[request.key]
            entry.saving, entry.save_error = True, ""
            self.entry_changed.emit(entry)
        self._pending.extend(planned)
        self._start()

    def _ask(self, clashes: list[Path], auto: bool) -> Conflict | None:
        self._asking = True
        try:
            answer = ask_conflict(self._window, clashes, auto)
        finally:
            self._asking = False
        deferred, self._deferred = self._deferred, []
        for targets, quality, was_auto in deferred:
            self.save(targets, quality, was_auto)
        return answer

    def _start(self) -> None:
        if self._worker is not None or not self._pending:
            return
        self._job, self._pending = self._pending, []
        self._worker = JobWorker(SaveJob(self._job))
        self._worker.event.connect(self._on_event)
        self._worker.failed.connect(self._on_failed)
        self._worker.finished.connect(self._on_finished)
        self._worker.start()
        self.busy_changed.emit(True)

    def _on_event(self, event: object) -> None:
        if not isinstance(event, (ev.ItemDone, ev.ItemFailed)):
            return
        request = self._job[event.index]
        self._claimed.discard(request.target)
        entry = self._entries[request.key]
        entry.saving = False
        if isinstance(event, ev.ItemDone):
            entry.saved_to = request.target
        else:
            entry.save_error = event.message
        self.entry_changed.emit(entry)

    def _on_failed(self, message: str) -> None:
        for request in self._job:
            entry = self._entries[request.key]
            if entry.saving:
                entry.saving, entry.save_error = False, message
                self.entry_changed.emit(entry)

    def _on_finished(self) -> None:
        self._worker = None
        self._job = []
        if self._pending:
            self._start()
        else:
            self.busy_changed.emit(False)
