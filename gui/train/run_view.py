"""The right side of the Train tab: one run's warnings, curves and samples, live or read from its
checkpoint. A stored run's samples are made on a worker thread; an answer that arrives after the view
moved on (another run, a new Start) is dropped."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import QGroupBox, QSplitter, QVBoxLayout, QWidget

from engine import events as ev
from engine.training.run_summary import RunSummary, preview_samples
from gui.common.background import Background
from gui.train.loss_plots import LossPlots
from gui.train.samples_view import SamplesView
from gui.train.warnings_box import WarningsBox

PHASE_NAMES = {"pretrain": "Pixel pretraining", "gan": "GAN"}
MARKER_COLORS = {"phase": "#3fb950", "resumed": "#d2a8ff", "rollback": "#ff7b72"}


class RunView(QWidget):
    def __init__(self, settings: QSettings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.plots = LossPlots(settings)
        self.samples = SamplesView()
        self.warnings = WarningsBox()
        self.shown: Path | None = None  # the run on screen
        self._phase: str | None = None  # its phase so far: a marker only where it changes
        self._view = 0  # counts resets, so a preview made for an earlier view is dropped
        samples_box = QGroupBox("Samples")
        QVBoxLayout(samples_box).addWidget(self.samples)
        self.splitter = QSplitter(Qt.Orientation.Vertical, childrenCollapsible=False)
        self.splitter.addWidget(self.plots)
        self.splitter.addWidget(samples_box)
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 2)
        self.splitter.setSizes([600, 400])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.warnings)
        layout.addWidget(self.splitter, 1)
        self._previews = Background("samples-preview", self)
        self._previews.done.connect(self._on_preview)
        self._previews.failed.connect(self._on_preview)

    def reset(self, folder: Path | None, samples_message: str = "No samples yet") -> None:
        """An empty view of `folder`: no curves, markers, samples or warnings."""
        self.shown = folder
        self._view += 1
        self._phase = None
        self.plots.clear()
        self.samples.clear(samples_message)
        self.warnings.clear()

    def show_stored(self, summary: RunSummary) -> None:
        """A run as its checkpoint has it: its curves now, its samples once made."""
        self.reset(summary.folder, "Loading samples…")
        self.replay(summary.history, summary.config.steps)
        self._previews.submit(self._view, lambda: preview_samples(summary))

    def _on_preview(self, view: object, samples: object) -> None:
        if view != self._view:
            return
        if isinstance(samples, ev.Samples):
            self.samples.add(samples)
        else:
            reason = samples if isinstance(samples, str) else "its validation images are no longer there"
            self.samples.clear(f"No samples: {reason}")

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
        self._previews.shutdown()
