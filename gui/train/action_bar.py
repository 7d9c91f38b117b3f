"""The Train tab's controls and state in one fixed strip across its top: Start, Stop, Resume, Save
checkpoint now, progress, speed, and what the run is doing. Messages that come and go (errors,
warnings) live elsewhere or below, so the buttons never move under the pointer."""

from __future__ import annotations

from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QPushButton, QSizePolicy, QVBoxLayout, QWidget

from gui.train.run_folders import format_duration


class ActionBar(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.start_button = QPushButton("Start")
        self.start_button.setProperty("role", "primary")
        self.start_button.setToolTip("Train a new run with these settings")
        self.stop_button = QPushButton("Stop")
        self.stop_button.setToolTip("End the run after the step in progress; it keeps a checkpoint")
        self.resume_button = QPushButton("Resume")
        self.checkpoint_button = QPushButton("Save checkpoint now")
        self.checkpoint_button.setToolTip("Write a checkpoint after the step in progress, without stopping")
        self.progress = QProgressBar(textVisible=True, minimumWidth=160)
        self.progress.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.clear_progress()
        self.speed = QLabel()
        self.speed.setProperty("role", "muted")
        self.speed.setMinimumWidth(self.speed.fontMetrics().horizontalAdvance("00.00 steps/s · ETA 00:00:00"))
        self.status = QLabel("Ready")
        self.estimate = QLabel(wordWrap=True)
        self.estimate.setProperty("role", "muted")
        self.error = QLabel(wordWrap=True, visible=False)
        self.error.setProperty("role", "error")
        buttons = QHBoxLayout()
        for button in (self.start_button, self.stop_button, self.resume_button, self.checkpoint_button):
            buttons.addWidget(button)
        buttons.addWidget(self.progress, 1)
        buttons.addWidget(self.speed)
        details = QHBoxLayout()
        details.addWidget(self.status)
        details.addWidget(self.estimate, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(buttons)
        layout.addLayout(details)
        layout.addWidget(self.error)

    def set_running(self, running: bool, resumable: bool) -> None:
        self.start_button.setEnabled(not running)
        self.stop_button.setEnabled(running)
        self.checkpoint_button.setEnabled(running)
        self.resume_button.setEnabled(not running and resumable)
        self.estimate.setVisible(not running)
        if not running:
            self.speed.setText("")  # a stopped run has no speed, and its ETA is stale

    def clear_progress(self) -> None:
        self.progress.setFormat("No run yet")
        self.progress.setValue(0)

    def set_progress(self, step: int, total: int) -> None:
        self.progress.setFormat("%v / %m steps")
        self.progress.setMaximum(max(1, total))
        self.progress.setValue(step)

    def set_speed(self, steps_per_s: float, eta_s: float) -> None:
        self.speed.setText(f"{steps_per_s:.2f} steps/s · ETA {format_duration(eta_s)}" if steps_per_s > 0 else "")

    def show_error(self, message: str) -> None:
        self.error.setText(message)
        self.error.setVisible(bool(message))
