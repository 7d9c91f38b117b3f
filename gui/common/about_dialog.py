"""Help > About: the version, what torch and ncnn can run on here (the Vulkan GPUs by name), where the bundled models and the runs live,
and the licences of the bundled photos and models (resources/LICENSES.md, shown as written).

These are the facts a bug report needs and a user of a pip-installed app cannot easily find.
"""

from __future__ import annotations

import html
from pathlib import Path

from PySide6.QtCore import QSettings, Qt, QUrl
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (QDialog, QDialogButtonBox, QFormLayout, QHBoxLayout, QLabel, QMainWindow,
                               QTextBrowser, QVBoxLayout, QWidget)

from engine import __version__
from engine.device import backend_status
from engine.models.registry import BUNDLED_DIR, bundled_models
from engine.upscaling.ncnn_backend import ncnn_status
from engine.resources import resource_path
from gui.common.desktop_integration import APP_NAME, app_icon

LICENCES_FILE = resource_path("LICENSES.md")
APP_LICENCE = "MIT"
ICON_SIZE = 72


def about_facts(runs_dir: Path, settings_file: str) -> dict[str, str]:
    """Label -> value, in the order shown."""
    models = ", ".join(bundled_models()) or "none found"
    return {"Version": __version__, **backend_status(), **ncnn_status(), "Bundled models": f"{BUNDLED_DIR} ({models})",
            "Runs folder": str(runs_dir), "Settings": settings_file}


def licences_markdown() -> str:
    try:
        return LICENCES_FILE.read_text(encoding="utf-8")
    except OSError as exc:
        return f"The licence list {LICENCES_FILE} cannot be read ({exc.strerror or exc})."


def _with_folder_link(value: str, folder: Path) -> str:
    """The value as rich text, its folder a link that opens the file manager (when the folder exists)."""
    shown, path = html.escape(value), html.escape(str(folder))
    if not folder.is_dir():
        return shown
    url = html.escape(QUrl.fromLocalFile(str(folder)).toString())
    return shown.replace(path, f'<a href="{url}">{path}</a>', 1)


class AboutDialog(QDialog):
    def __init__(self, runs_dir: Path, settings_file: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"About {APP_NAME}")
        self.facts = about_facts(runs_dir, settings_file)
        icon = QLabel()
        icon.setPixmap(app_icon().pixmap(ICON_SIZE, ICON_SIZE))
        title = QLabel(f"<h2>{APP_NAME} {__version__}</h2>Train a super-resolution GAN on your own images and "
                       f"upscale pictures with it. Licence: {APP_LICENCE}.", wordWrap=True)
        header = QHBoxLayout()
        header.addWidget(icon, 0, Qt.AlignmentFlag.AlignTop)
        header.addWidget(title, 1)
        form = QFormLayout()
        self.values: dict[str, QLabel] = {}
        folders = {"Bundled models": BUNDLED_DIR, "Runs folder": runs_dir}
        for name, value in self.facts.items():
            shown = _with_folder_link(value, folders[name]) if name in folders else html.escape(value)
            label = QLabel(shown, wordWrap=True, openExternalLinks=True, textFormat=Qt.TextFormat.RichText)
            label.setTextInteractionFlags(Qt.TextInteractionFlag.TextBrowserInteraction)
            form.addRow(f"{name}:", label)
            self.values[name] = label
        self.licences = QTextBrowser(openExternalLinks=True)
        self.licences.setMarkdown(licences_markdown())
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(header)
        layout.addLayout(form)
        layout.addWidget(QLabel("<b>Licences of the bundled photos and models</b>"))
        layout.addWidget(self.licences, 1)
        layout.addWidget(buttons)
        self.resize(860, 640)


def add_help_menu(window: QMainWindow, runs_dir: Path, settings: QSettings) -> QAction:
    """Help > About, opening the dialog window-modal (it is deleted when closed)."""
    action = QAction(f"&About {APP_NAME}", window)
    action.setMenuRole(QAction.MenuRole.AboutRole)  # macOS moves it to the application menu

    def show_about() -> None:
        dialog = AboutDialog(runs_dir, settings.fileName(), window)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()

    action.triggered.connect(show_about)
    window.menuBar().addMenu("&Help").addAction(action)
    return action
