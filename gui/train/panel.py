"""The Train tab: settings and the run list on the left, the shown run's curves and previews on the
right, and a fixed action bar across the top.

Each Start trains into a fresh run folder; Resume continues the selected run with its stored settings
(shown in the form, which is locked while a run trains). Selecting a run shows its curves and previews
without resuming it. The trainer runs on a worker thread; its events only update buffers and labels.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Protocol

from PySide6.QtCore import QByteArray, QSettings, Qt, Signal
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import QScrollArea, QSplitter, QTabWidget, QVBoxLayout, QWidget

from engine import events as ev
from engine.torch_threads import THREADS_BESIDE_A_WINDOW, set_own_threads
from engine.errors import ConfigError
from engine.training.config import TrainConfig
from engine.resources import resource_path
from engine.training.run_folder import config_to_resume
from engine.training.trainer import Trainer
from engine.jobs import DeferredJob
from engine.qt.job_worker import JobWorker
from gui.train.action_bar import ActionBar
from gui.train.data_check import DataCheck
from gui.train.run_folders import default_runs_dir, has_checkpoint, new_run_dir
from gui.train.run_list import RunList
from gui.train.run_view import PHASE_NAMES, RunView
from gui.train.settings_form import SettingsForm
from gui.train.speed_estimate import Probe, SpeedEstimate, measure

REPO_SAMPLES = resource_path("samples")
SPLITTERS = ("train/splitter", "train/right_splitter")
LEFT_WIDTH, LEFT_MIN_WIDTH = 370, 300  # the settings column; the plots take the rest


class TrainJob(Protocol):
    def run(self) -> Iterator[Any]: ...

    def request_stop(self) -> None: ...

    def request_checkpoint(self) -> None: ...


JobFactory = Callable[[TrainConfig, bool], TrainJob]


class TrainPanel(QWidget):
    busy_changed = Signal(bool)
    run_dir_changed = Signal(str)  # the run the Upscale tab's "Current run" models read from

    def __init__(self, settings: QSettings, runs_dir: Path | None = None, job_factory: JobFactory = Trainer,
                 speed_probe: Probe | None = measure, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._settings = settings
        self._runs_dir = runs_dir or default_runs_dir()
        self._job_factory = job_factory
        self._worker: JobWorker | None = None
        self._trainer: TrainJob | None = None  # set on the worker thread once built
        self._checkpoint_wanted = False
        self._stopping = False
        self._start_failed = False  # the worker could not build the trainer
        self._before_start: tuple[Path | None, str, str] = (None, "", "")  # shown run, last run and its end
        self._live: tuple[Path, TrainConfig] | None = None  # the running run
        self._start_step = 0  # where the live run started or resumed (warnings raised there are its set-up)
        self.last_run: str = str(settings.value("train/last_run", "") or "")
        self._last_reason: str = str(settings.value("train/last_reason", "") or "")

        self.view = RunView(settings)
        self.plots, self.previews, self.warnings = self.view.plots, self.view.previews, self.view.warnings
        self.form = SettingsForm()
        self.bar = ActionBar()
        self.runs = RunList(self._runs_dir, settings)
        self.estimate = SpeedEstimate(speed_probe, self)
        self.data_check = DataCheck(self)
        self.start_button, self.stop_button = self.bar.start_button, self.bar.stop_button
        self.resume_button, self.checkpoint_button = self.bar.resume_button, self.bar.checkpoint_button
        self.progress, self.status, self.speed, self.error = (self.bar.progress, self.bar.status, self.bar.speed,
                                                              self.bar.error)
        self.data_dir = self.form.data_dir
        self._build_layout()
        self._connect()
        self._load_settings()
        self._update_buttons()
        if self.last_run:
            self.runs.select(Path(self.last_run))
        self.runs.refresh()

    # ------------------------------------------------------------------ layout
    def _build_layout(self) -> None:
        scroll = QScrollArea(widgetResizable=True)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setWidget(self.form)
        self.left_tabs = QTabWidget()
        self.left_tabs.addTab(scroll, "Settings")
        self.left_tabs.addTab(self.runs, "Runs")
        self.left_tabs.setMinimumWidth(LEFT_MIN_WIDTH)
        self.splitter = QSplitter(Qt.Orientation.Horizontal, childrenCollapsible=False)
        self.splitter.addWidget(self.left_tabs)
        self.splitter.addWidget(self.view)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setSizes([LEFT_WIDTH, 1000])
        layout = QVBoxLayout(self)
        layout.addWidget(self.bar)
        layout.addWidget(self.splitter, 1)

    def _connect(self) -> None:
        self.start_button.clicked.connect(lambda: self.start(resume=False))
        self.resume_button.clicked.connect(lambda: self.start(resume=True))
        self.stop_button.clicked.connect(self.stop)
        self.checkpoint_button.clicked.connect(self.save_checkpoint_now)
        self.form.changed.connect(self._on_form_changed)
        self.estimate.changed.connect(self._on_estimate)
        self.data_check.checked.connect(self.form.set_data_summary)
        self.runs.selection_changed.connect(self._on_run_selected)
        self.runs.scanned.connect(self._on_runs_scanned)

    # ------------------------------------------------------------------ settings
    def _load_settings(self) -> None:
        stored = self._settings.value("train/config", "")
        config = TrainConfig()
        if stored:
            try:
                config = TrainConfig.from_dict(json.loads(str(stored)))
            except (ConfigError, ValueError, TypeError):
                self.bar.show_error("Saved settings were invalid and have been reset to the defaults.")
        self.form.set_config(config)
        if not config.data_dir:
            self.data_dir.setText(str(REPO_SAMPLES))
        for key, splitter in zip(SPLITTERS, (self.splitter, self.view.splitter)):
            state = self._settings.value(key)
            if isinstance(state, QByteArray):
                splitter.restoreState(state)
        self._on_form_changed()

    def current_config(self) -> TrainConfig:
        """The form's settings; raises ConfigError with a message for the window."""
        data_dir = self.data_dir.text().strip()
        if not data_dir or not Path(data_dir).is_dir():
            raise ConfigError(f"Training images: folder {data_dir or '(none)'} does not exist; choose a folder "
                              "of images.")
        return self.form.config(out_dir="")

    def _form_config(self) -> TrainConfig | None:
        try:
            return self.form.config(out_dir="")
        except ConfigError:
            return None

    def save_settings(self) -> None:
        """Store the form (when it parses) and the layout, so the next session starts from them."""
        config = self._form_config()
        if config is not None:
            self._settings.setValue("train/config", json.dumps(config.to_dict()))
        for key, splitter in zip(SPLITTERS, (self.splitter, self.view.splitter)):
            self._settings.setValue(key, splitter.saveState())
        self._settings.sync()

    def _remember(self, key: str, value: str) -> None:
        self._settings.setValue(key, value)
        self._settings.sync()

    def _on_form_changed(self) -> None:
        self.data_check.request(self.form.value("data_dir"), self.form.value("lr_dir"), self.form.value("scale"))
        if not self.is_running():
            self.estimate.request(self._form_config())

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802
        super().showEvent(event)
        self._on_form_changed()  # the speed is measured only while the tab is on screen

    def _on_estimate(self, estimate: str, note: str) -> None:
        self.bar.estimate.setText(estimate)
        self.form.set_note(note)

    # ------------------------------------------------------------------ run control
    def is_running(self) -> bool:
        return self._worker is not None

    def _resume_target(self) -> Path | None:
        selected = self.runs.selected_path()
        return selected or (Path(self.last_run) if self.last_run else None)

    def _can_resume(self) -> bool:
        target = self._resume_target()
        if target is None or not has_checkpoint(target):
            return False
        summary = self.runs.summary(target)
        if summary is not None:
            return not summary.complete
        return not (str(target) == self.last_run and self._last_reason == "completed")

    def start(self, resume: bool = False) -> bool:
        """Start a fresh run (or resume the selected one); on bad settings show why and return False."""
        if self.is_running():
            return False
        self.bar.show_error("")
        try:
            if resume:
                run_dir = self._resume_target()
                if run_dir is None:
                    raise ConfigError("Select a run to resume in the Runs list.")
                config = config_to_resume(run_dir)
                self.form.set_config(config)  # the settings the run continues with, in plain view
            else:
                run_dir = new_run_dir(self._runs_dir)
                config = self.current_config().replace(out_dir=str(run_dir))
        except ConfigError as exc:
            self.bar.show_error(str(exc))
            return False
        self.estimate.cancel()
        self.save_settings()
        self._begin(run_dir, config, resume)
        return True

    def _begin(self, run_dir: Path, config: TrainConfig, resume: bool) -> None:
        self._before_start = self.view.shown, self.last_run, self._last_reason
        self._start_failed = False
        summary = self.runs.summary(run_dir) if resume else None
        self._start_step = summary.step if summary is not None else 0
        if not resume or self.view.shown != run_dir:
            self.view.reset(run_dir)
        self._live = run_dir, config
        self.last_run, self._last_reason = str(run_dir), ""
        self._remember("train/last_run", self.last_run)
        self._trainer, self._checkpoint_wanted, self._stopping = None, False, False
        self.bar.set_progress(self._start_step, config.steps)
        self._worker = JobWorker(DeferredJob(lambda: self._build_job(config, resume)))
        self._worker.event.connect(self._on_event)
        self._worker.failed.connect(self._on_failed)
        self._worker.finished.connect(self._on_finished)
        self.status.setText("Resuming…" if resume else "Starting…")
        self.form.set_locked(True)
        self._worker.start()
        self._update_buttons()
        self.runs.show_live(run_dir, config.preset, self._start_step, config.steps)
        self.runs.select(run_dir, quiet=True)
        self.busy_changed.emit(True)
        self.run_dir_changed.emit(self.last_run)

    def _build_job(self, config: TrainConfig, resume: bool) -> TrainJob:
        """On the worker thread: once no speed measurement runs, build the trainer (loads data and nets)."""
        self.estimate.wait_idle()
        set_own_threads(THREADS_BESIDE_A_WINDOW)
        job = self._job_factory(config, resume)
        self._trainer = job
        if self._checkpoint_wanted:
            job.request_checkpoint()
        return job

    def stop(self) -> None:
        if self._worker is not None:
            self._worker.request_stop()
            self._stopping = True
            self.status.setText("Stopping… saving a checkpoint")
            self.stop_button.setEnabled(False)
            self.checkpoint_button.setEnabled(False)

    def save_checkpoint_now(self) -> None:
        self._checkpoint_wanted = True
        if self._trainer is not None:
            self._trainer.request_checkpoint()
        self.status.setText("Saving a checkpoint after this step…")

    def _on_failed(self, message: str) -> None:
        """The run could not start (its data, weights or folder): the reason, where the settings are."""
        self.bar.show_error(message)
        self._start_failed = True

    def _on_finished(self) -> None:
        self._worker, self._trainer, self._live = None, None, None
        if self._start_failed:
            self._show_before_start()
        self._remember("train/last_reason", self._last_reason)
        self.form.set_locked(False)
        self._update_buttons()
        self.runs.refresh()
        self._on_form_changed()
        self.busy_changed.emit(False)

    def _show_before_start(self) -> None:
        """A Start that failed changed nothing: the run shown before (and what Resume continues) comes back."""
        shown, self.last_run, self._last_reason = self._before_start
        self._remember("train/last_run", self.last_run)
        self.view.reset(None)
        self.bar.clear_progress()
        self.runs.select(shown, quiet=True)
        self._on_run_selected(shown)
        self.status.setText("Could not start")
        self.run_dir_changed.emit(self.last_run)

    def _update_buttons(self) -> None:
        self.bar.set_running(self.is_running(), self._can_resume())
        target = self._resume_target()
        self.resume_button.setToolTip(f"Continue {target.name} with its own settings" if target else "")

    def shutdown(self) -> None:
        """The window closes: stop measuring and previewing."""
        self.estimate.shutdown()
        self.data_check.shutdown()
        self.view.shutdown()

    # ------------------------------------------------------------------ showing a run
    def _on_runs_scanned(self) -> None:
        """At start-up, and after a run that was picked in the list while another trained: show the pick."""
        if not self.is_running() and self.runs.selected_path() != self.view.shown:
            self._on_run_selected(self.runs.selected_path())
        self._update_buttons()

    def _on_run_selected(self, folder: Path | None) -> None:
        """Show the selected run's curves and previews, unless a run is training (the view follows it)."""
        self._update_buttons()
        summary = self.runs.summary(folder)
        if self.is_running() or folder is None or summary is None or folder == self.view.shown:
            return
        self.view.show_stored(summary)
        self.bar.set_progress(summary.step, summary.config.steps)
        self.status.setText(f"{summary.name}: step {summary.step} of {summary.config.steps}")
        self.last_run = str(folder)
        self._remember("train/last_run", self.last_run)
        self._update_buttons()
        self.run_dir_changed.emit(self.last_run)

    # ------------------------------------------------------------------ events
    def _on_event(self, event: object) -> None:
        if isinstance(event, ev.StepMetrics):
            self._on_step(event)
        elif isinstance(event, ev.Validation):
            self.plots.add_validation(event)
        elif isinstance(event, ev.Previews):
            self.previews.add(event)
        elif isinstance(event, ev.PhaseChanged):
            self.view.phase_changed(event)
        elif isinstance(event, ev.TrainWarning):
            self.warnings.add(event.step, event.code, event.message, self._start_step)
        elif isinstance(event, ev.Rollback):
            self.view.rolled_back(event)
        elif isinstance(event, ev.Resumed):
            self._on_resumed(event)
        elif isinstance(event, ev.CheckpointSaved):
            self.speed.setToolTip(f"Checkpoint at step {event.step}: {event.path}")
            if event.reason == "requested" and not self._stopping:
                self.status.setText(f"Checkpoint saved at step {event.step}")
        elif isinstance(event, ev.Finished):
            self._on_run_finished(event)

    def _on_resumed(self, resumed: ev.Resumed) -> None:
        self._start_step = resumed.step
        total = self._live[1].steps if self._live else resumed.step
        self.view.resumed(resumed, total)
        self.bar.set_progress(resumed.step, total)

    def _on_step(self, metrics: ev.StepMetrics) -> None:
        self.plots.add_metrics(metrics)
        self.bar.set_progress(metrics.step, metrics.total_steps)
        self.bar.set_speed(metrics.steps_per_s, metrics.eta_s)
        if not self._stopping:
            self.status.setText(f"Phase: {PHASE_NAMES.get(metrics.phase, metrics.phase)}")
        if self._live is not None:
            self.runs.show_live(self._live[0], self._live[1].preset, metrics.step, metrics.total_steps)

    def _on_run_finished(self, finished: ev.Finished) -> None:
        self._last_reason = finished.reason
        texts = {"completed": "Finished", "stopped": "Stopped", "failed": "Failed"}
        self.status.setText(f"{texts.get(finished.reason, finished.reason)} at step {finished.step}")
        if finished.reason == "failed":
            self.bar.show_error(finished.message)
