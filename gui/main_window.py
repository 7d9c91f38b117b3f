"""The main window: Train and Upscale tabs, a View menu for the theme, and a close that never
abandons a running job (it asks the run to stop, waits for its checkpoint, then closes) nor an upscaled
result that is not saved yet without asking. Its size and place persist between sessions."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QByteArray, QSettings
from PySide6.QtGui import QAction, QActionGroup, QCloseEvent, QKeySequence
from PySide6.QtWidgets import QApplication, QMainWindow, QMessageBox, QTabWidget

from engine.training.trainer import Trainer
from gui.common import theme
from gui.common.about_dialog import add_help_menu
from gui.train.run_folders import default_runs_dir
from gui.train.speed_estimate import Probe, measure
from gui.train.panel import JobFactory, TrainPanel
from gui.upscale.panel import UpscalePanel

MINIMUM_SIZE = (800, 600)  # every Train control stays reachable down to this (scroll areas take over)


class MainWindow(QMainWindow):
    def __init__(self, settings: QSettings, runs_dir: Path | None = None, job_factory: JobFactory = Trainer,
                 speed_probe: Probe | None = measure) -> None:
        super().__init__()
        self._settings = settings
        self._closing = False
        self.setWindowTitle("SRGAN Studio")
        self.runs_dir = runs_dir or default_runs_dir()
        self.train = TrainPanel(settings, self.runs_dir, job_factory, speed_probe)
        self.upscale = UpscalePanel(settings)
        self.tabs = QTabWidget(documentMode=True)
        self.tabs.addTab(self.train, "Train")
        self.tabs.addTab(self.upscale, "Upscale")
        self.setCentralWidget(self.tabs)
        self.train.run_dir_changed.connect(self.upscale.set_run_dir)
        if self.train.last_run:
            self.upscale.set_run_dir(self.train.last_run)
        for panel in (self.train, self.upscale):
            panel.busy_changed.connect(self._on_busy_changed)
        self._build_menus()
        self.apply_theme(str(settings.value("view/theme", "system")))
        self.setMinimumSize(*MINIMUM_SIZE)
        geometry = settings.value("window/geometry")
        if not (isinstance(geometry, QByteArray) and self.restoreGeometry(geometry)):
            self.resize(1480, 920)

    def _build_menus(self) -> None:
        file_menu = self.menuBar().addMenu("&File")
        quit_action = QAction("&Quit", self, shortcut=QKeySequence.StandardKey.Quit)
        quit_action.triggered.connect(self.close)
        file_menu.addAction(quit_action)
        view_menu = self.menuBar().addMenu("&View")
        group = QActionGroup(self)
        self.theme_actions: dict[str, QAction] = {}
        for name in theme.THEMES:
            action = QAction(f"{name.capitalize()} theme", self, checkable=True)
            action.triggered.connect(lambda _=False, n=name: self.apply_theme(n))
            group.addAction(action)
            view_menu.addAction(action)
            self.theme_actions[name] = action
        self.about_action = add_help_menu(self, self.runs_dir, self._settings)

    def apply_theme(self, name: str) -> None:
        name = name if name in theme.THEMES else "system"
        colors = theme.apply(QApplication.instance(), name)
        self.train.plots.apply_colors(colors)
        self.theme_actions[name].setChecked(True)
        self._settings.setValue("view/theme", name)

    def is_busy(self) -> bool:
        return self.train.is_running() or self.upscale.is_running()

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802
        self.train.save_settings()
        self._settings.setValue("window/geometry", self.saveGeometry())
        if not self.is_busy():
            if self._unsaved_results_kept():
                event.ignore()
                return
            self.train.shutdown()
            event.accept()
            return
        event.ignore()
        if not self._closing:
            self._closing = True
            self.statusBar().showMessage("Stopping: saving the checkpoint before closing…")
            self.train.stop()
            self.upscale.cancel()

    def _unsaved_results_kept(self) -> bool:
        """Upscaled results wait, unsaved, in a temporary folder that goes with the window: ask whether to save
        them (the window closes once they are written), discard them, or not close. True: the window stays."""
        count = self.upscale.unsaved_count()
        if not count:
            return False
        self.tabs.setCurrentWidget(self.upscale)
        box = QMessageBox(QMessageBox.Icon.Question, "Results not saved",
                          f"{count} upscaled result{'s are' if count != 1 else ' is'} done but not saved yet.",
                          parent=self)
        box.setInformativeText(f"Save {'them' if count != 1 else 'it'} into {self.upscale.settings.folder()} "
                               "before closing, or discard?")
        save = box.addButton("Save all", QMessageBox.ButtonRole.AcceptRole)
        discard = box.addButton("Discard", QMessageBox.ButtonRole.DestructiveRole)
        box.addButton(QMessageBox.StandardButton.Cancel)
        box.setDefaultButton(save)
        self._closing = False  # no close from a job's end while the question is open
        box.exec()
        if box.clickedButton() is discard:
            return False
        self.statusBar().clearMessage()
        if box.clickedButton() is save:
            self.upscale.save_all()
            self._closing = self.upscale.is_running()  # closes once written; a cancelled name question stays
        return True

    def _on_busy_changed(self, busy: bool) -> None:
        if self._closing and not busy and not self.is_busy():
            self.close()
