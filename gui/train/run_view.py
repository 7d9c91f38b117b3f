"""The right side of the Train tab: one run's warnings, curves and previews, live or read from its
checkpoint. A stored run's previews are made on a worker thread; an answer that arrives after the view
moved on (another run, a new Start) is dropped."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import QGroupBox, QSplitter, QVBoxLayout, QWidget

from engine import events as ev
from engine.training.run_summary import RunSummary, run_previews
from gui.common.background import Background
from gui.train.loss_plots import LossPlots
from gui.train.previews_view import PreviewsView
from gui.train.warnings_box import WarningsBox

PHASE_NAMES = {"pretrain": "Pixel pretraining", "gan": "GAN"}
MARKER_COLORS = {"phase": "#3fb950", "resumed": "#d2a8ff", "rollback": "#ff7b72"}


class RunView(QWidget):
    def __init__(self, settings: QSettings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.plots = LossPlots(settings)
        self.previews = PreviewsView()
        self.warnings = WarningsBox()
        self.shown: Path | None = None  # the run on screen
        self._phase: str | None = None  # its phase so far: a marker only where it changes
        self._view = 0  # counts resets, so a preview made for an earlier view is dropped
        previews_box = QGroupBox("Previews")
        QVBoxLayout(previews_box).addWidget(self.previews)
        self.splitter = QSplitter(Qt.Orientation.Vertical, childrenCollapsible=False)
        self.splitter.addWidget(self.plots)
        self.splitter.addWidget(previews_box)
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 2)
        self.splitter.setSizes([600, 400])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.warnings)
        layout.addWidget(self.splitter, 1)
        self._preview_jobs = Background("previews", self)
        self._preview_jobs.done.connect(self._on_preview)
        self._preview_jobs.failed.connect(self._on_preview)

    def reset(self, folder: Path | None, previews_message: str = "No previews yet") -> None:
        """An empty view of `folder`: no curves, markers, previews or warnings."""
        self.shown = folder
        self._view += 1
        self._phase = None
        self.plots.clear()
        self.previews.clear(previews_message)
        self.warnings.clear()

    def show_stored(self, summary: RunSummary) -> None:
        """A run as its checkpoint has it: its curves now, its previews once made."""
        self.reset(summary.folder, "Loading previews…")
        self.replay(summary.history, summary.config.steps)
        self._preview_jobs.submit(self._view, lambda: run_previews(summary))

    def _on_preview(self, view: object, previews: object) -> None:
        if view != self._view:
            return
        if isinstance(previews, ev.Previews):
            self.previews.add(previews)
        else:
            reason = previews if isinstance(previews, str) else "its validation images are no longer there"
            self.previews.clear(f"No previews: {reason}")

    def replay(self, history: Iterable[ev.HistoryRecord], total_steps: int) -> None:
        """Curves and phase markers of a stored history, straight into the plots."""
        self._phase = None
        for event in ev.replay_history(history, total_steps):
            if isinstance(event, ev.StepMetrics):
                self.plots.add_metrics(event)
            elif isinstance(event, ev.Validation):
                self.plots.add_validation(event)
            else:
                self.phase_changed(event)

    def resumed(self, resumed: ev.Resumed, total_steps: int) -> None:
        """The whole stored history, so a run resumed after a restart shows all its curves (and one resumed
        in the same window is not drawn twice)."""
        self._view += 1
        self.plots.clear()
        self.replay(resumed.history, total_steps)
        self.plots.mark(resumed.step, "resumed", MARKER_COLORS["resumed"])

    def phase_changed(self, event: ev.PhaseChanged) -> None:
        if self._phase is not None and event.phase != self._phase:
            self.plots.mark(event.step, PHASE_NAMES.get(event.phase, event.phase), MARKER_COLORS["phase"])
        self._phase = event.phase

    def rolled_back(self, event: ev.Rollback) -> None:
        self.plots.mark(event.step, f"rollback ({event.term})", MARKER_COLORS["rollback"])

    def shutdown(self) -> None:
        self._preview_jobs.shutdown()
