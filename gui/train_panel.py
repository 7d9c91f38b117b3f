"""The Train tab: data and settings on the left, live curves and samples on the right.

Each Start trains into a fresh run folder; Resume continues the last stopped run from its checkpoint.
The trainer runs on a worker thread; its events only update buffers and labels here.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QSettings, Qt, Signal
from PySide6.QtWidgets import (QComboBox, QFileDialog, QFormLayout, QGroupBox, QHBoxLayout, QLabel, QLineEdit,
                               QListWidget, QProgressBar, QPushButton, QScrollArea, QSplitter, QVBoxLayout, QWidget)

from engine import events as ev
from engine.config import PRESETS, ConfigError, TrainConfig, preset
from engine.resources import resource_path
from engine.run_folder import config_to_resume
from engine.trainer import Trainer
from engine.worker import DeferredJob, Job, JobWorker
from gui.loss_plots import LossPlots
from gui.run_folders import default_runs_dir, format_duration, has_checkpoint, new_run_dir
from gui.samples_view import SamplesView
from gui.settings_form import SettingsForm

PHASE_NAMES = {"pretrain": "Pixel pretraining", "gan": "GAN"}
REPO_SAMPLES = resource_path("samples")
JobFactory = Callable[[TrainConfig, bool], Job]


class TrainPanel(QWidget):
    busy_changed = Signal(bool)
    run_dir_changed = Signal(str)  # the run the Upscale tab's "Current run" models read from

    def __init__(self, settings: QSettings, runs_dir: Path | None = None, job_factory: JobFactory = Trainer,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._settings = settings
        self._runs_dir = runs_dir or default_runs_dir()
        self._job_factory = job_factory
        self._worker: JobWorker | None = None
        self._total_steps = 0
        self.last_run: str = str(settings.value("train/last_run", "") or "")
        self._last_reason: str = str(settings.value("train/last_reason", "") or "")

        self.plots = LossPlots()
        self.samples = SamplesView()
        self._build_layout()
        self._load_settings()
        self._update_buttons()

    # ------------------------------------------------------------------ layout
    def _build_layout(self) -> None:
        self.data_dir = QLineEdit(placeholderText="Folder of training images")
        self.data_dir.textChanged.connect(self.data_dir.setToolTip)
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse_data)
        data_row = QHBoxLayout()
        data_row.addWidget(self.data_dir, 1)
        data_row.addWidget(browse)
        self.preset = QComboBox()
        self.preset.addItems(list(PRESETS))
        self.preset.activated.connect(lambda _: self.form.set_config(preset(self.preset.currentText())))
        top = QFormLayout()
        top.addRow("Training images", data_row)
        top.addRow("Preset", self.preset)
        self.form = SettingsForm()
        settings_box = QGroupBox("Settings")
        box_layout = QVBoxLayout(settings_box)
        box_layout.addLayout(top)
        box_layout.addWidget(self.form)
        box_layout.addStretch(1)
        scroll = QScrollArea(widgetResizable=True)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        scroll.setWidget(settings_box)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)

        self.start_button = QPushButton("Start")
        self.start_button.setProperty("role", "primary")
        self.stop_button = QPushButton("Stop")
        self.resume_button = QPushButton("Resume")
        self.start_button.clicked.connect(lambda: self.start(resume=False))
        self.resume_button.clicked.connect(lambda: self.start(resume=True))
        self.stop_button.clicked.connect(self.stop)
        buttons = QHBoxLayout()
        for button in (self.start_button, self.stop_button, self.resume_button):
            buttons.addWidget(button)

        self.progress = QProgressBar(format="%v / %m steps", textVisible=True)
        self.speed = QLabel("")
        self.speed.setProperty("role", "muted")
        self.status = QLabel("Ready")
        self.error = QLabel(wordWrap=True, visible=False)
        self.error.setProperty("role", "error")
        self.banner = QLabel(wordWrap=True, visible=False)
        self.banner.setProperty("role", "banner")
        self.warnings = QListWidget(wordWrap=True)
        self.warnings.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.warnings.setMaximumHeight(110)
        self.warnings.setVisible(False)

        left = QVBoxLayout()
        left.addWidget(scroll, 1)
        left.addLayout(buttons)
        left.addWidget(self.progress)
        status_row = QHBoxLayout()
        status_row.addWidget(self.status, 1)
        status_row.addWidget(self.speed)
        left.addLayout(status_row)
        left.addWidget(self.error)
        left.addWidget(self.banner)
        left.addWidget(self.warnings)
        left_widget = QWidget()
        left_widget.setLayout(left)
        left_widget.setMinimumWidth(340)
        left_widget.setMaximumWidth(460)

        samples_box = QGroupBox("Samples")
        QVBoxLayout(samples_box).addWidget(self.samples)
        right = QSplitter(Qt.Orientation.Vertical)
        right.addWidget(self.plots)
        right.addWidget(samples_box)
        right.setStretchFactor(0, 3)
        right.setStretchFactor(1, 2)
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(left_widget)
        splitter.addWidget(right)
        splitter.setStretchFactor(1, 1)
        layout = QHBoxLayout(self)
        layout.addWidget(splitter)

    def _browse_data(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Training images", self.data_dir.text())
        if folder:
            self.data_dir.setText(folder)

    # ------------------------------------------------------------------ settings
    def _load_settings(self) -> None:
        stored = self._settings.value("train/config", "")
        config = TrainConfig()
        if stored:
            try:
                config = TrainConfig.from_dict(json.loads(str(stored)))
            except (ConfigError, ValueError, TypeError):
                self._show_error("Saved settings were invalid and have been reset to the defaults.")
        self.preset.setCurrentText(config.preset)
        self.form.set_config(config)
        self.data_dir.setText(config.data_dir or str(REPO_SAMPLES))

    def current_config(self) -> TrainConfig:
        """The form's settings; raises ConfigError with a message for the window."""
        data_dir = self.data_dir.text().strip()
        if not data_dir or not Path(data_dir).is_dir():
            raise ConfigError(f"Training images: folder {data_dir or '(none)'} does not exist; choose a folder "
                              "of images.")
        return self.form.config(preset=self.preset.currentText(), data_dir=data_dir, out_dir="")

    def save_settings(self) -> None:
        """Store the form (when it parses) so the next session starts from it."""
        try:
            config = self.form.config(preset=self.preset.currentText(), data_dir=self.data_dir.text().strip(),
                                      out_dir="")
        except ConfigError:
            return
        self._remember("train/config", json.dumps(config.to_dict()))

    def _remember(self, key: str, value: str) -> None:
        self._settings.setValue(key, value)
        self._settings.sync()

    # ------------------------------------------------------------------ run control
    def is_running(self) -> bool:
        return self._worker is not None

    def start(self, resume: bool = False) -> bool:
        """Start a fresh run (or resume the last one); on bad settings show why and return False."""
        if self.is_running():
            return False
        self._show_error("")
        run_dir = Path(self.last_run) if resume else new_run_dir(self._runs_dir)
        try:
            config = self.current_config()
            config = config_to_resume(run_dir, config.steps) if resume else config.replace(out_dir=str(run_dir))
        except ConfigError as exc:
            self._show_error(str(exc))
            return False
        self.save_settings()
        if not resume:
            self.plots.clear()
            self.samples.clear()
            self.warnings.clear()
            self.banner.setVisible(False)
            self.warnings.setVisible(False)
        self.last_run = str(run_dir)
        self._last_reason = ""
        self._remember("train/last_run", self.last_run)
        self._total_steps = config.steps
        self._worker = JobWorker(DeferredJob(lambda: self._job_factory(config, resume)))
        self._worker.event.connect(self._on_event)
        self._worker.failed.connect(self._show_error)
        self._worker.finished.connect(self._on_finished)
        self.status.setText("Resuming…" if resume else "Starting…")
        self._worker.start()
        self._update_buttons()
        self.busy_changed.emit(True)
        self.run_dir_changed.emit(self.last_run)
        return True

    def stop(self) -> None:
        if self._worker is not None:
            self._worker.request_stop()
            self.status.setText("Stopping… saving a checkpoint")
            self.stop_button.setEnabled(False)

    def _on_finished(self) -> None:
        self._worker = None
        self._remember("train/last_reason", self._last_reason)
        self._update_buttons()
        self.busy_changed.emit(False)

    def _update_buttons(self) -> None:
        running = self.is_running()
        self.start_button.setEnabled(not running)
        self.stop_button.setEnabled(running)
        resumable = has_checkpoint(self.last_run) and self._last_reason != "completed"
        self.resume_button.setEnabled(not running and resumable)

    def _show_error(self, message: str) -> None:
        self.error.setText(message)
        self.error.setVisible(bool(message))

    def _warn(self, step: int, message: str) -> None:
        self.banner.setText(f"⚠ {message}")
        self.banner.setVisible(True)
        self.warnings.addItem(f"Step {step}: {message}")
        self.warnings.setVisible(self.warnings.count() > 1)  # the banner already shows a lone warning
        self.warnings.scrollToBottom()

    def warning_texts(self) -> list[str]:
        return [self.warnings.item(i).text() for i in range(self.warnings.count())]

    # ------------------------------------------------------------------ events
    def _on_event(self, event: object) -> None:
        if isinstance(event, ev.StepMetrics):
            self._on_step(event)
        elif isinstance(event, ev.Validation):
            self.plots.add_validation(event)
        elif isinstance(event, ev.Samples):
            self.samples.add(event)
        elif isinstance(event, ev.PhaseChanged):
            if event.step > 0:  # a run's first phase needs no marker
                self.plots.mark(event.step, PHASE_NAMES.get(event.phase, event.phase), "#3fb950")
            self.status.setText(f"Phase: {PHASE_NAMES.get(event.phase, event.phase)}")
        elif isinstance(event, ev.TrainWarning):
            self._warn(event.step, event.message)
        elif isinstance(event, ev.Rollback):
            self.plots.mark(event.step, f"rollback ({event.term})", "#ff7b72")
            self._warn(event.step, f"{event.term} went NaN/inf: rolled back to step {event.to_step}, "
                                   f"learning rates now G {event.lr_g:.2g} / D {event.lr_d:.2g}")
        elif isinstance(event, ev.Resumed):
            self._redraw_history(event)
        elif isinstance(event, ev.CheckpointSaved):
            self.speed.setToolTip(f"Checkpoint at step {event.step}: {event.path}")
        elif isinstance(event, ev.Finished):
            self._on_run_finished(event)

    def _redraw_history(self, resumed: ev.Resumed) -> None:
        """Curves from the checkpoint, so a run resumed after a restart shows its whole history (and one
        resumed in the same window is not drawn twice)."""
        self.plots.clear()
        for event in ev.replay_history(resumed.history, self._total_steps):
            self._on_event(event)
        self.plots.mark(resumed.step, "resumed", "#d2a8ff")

    def _on_step(self, metrics: ev.StepMetrics) -> None:
        self.plots.add_metrics(metrics)
        self.progress.setMaximum(metrics.total_steps)
        self.progress.setValue(metrics.step)
        self.speed.setText(f"{metrics.steps_per_s:.2f} steps/s · ETA {format_duration(metrics.eta_s)}")
        self.status.setText(f"Phase: {PHASE_NAMES.get(metrics.phase, metrics.phase)}")

    def _on_run_finished(self, finished: ev.Finished) -> None:
        self._last_reason = finished.reason
        texts = {"completed": "Finished", "stopped": "Stopped", "failed": "Failed"}
        self.status.setText(f"{texts.get(finished.reason, finished.reason)} at step {finished.step}")
        if finished.reason == "failed":
            self._show_error(finished.message)
