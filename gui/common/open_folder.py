"""Open a folder in the desktop's file manager, or say why not: with no file manager registered (a bare
window manager, a container) Qt's request fails without a word, and the person would not know where the
files are."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QUrl
from PySide6.QtGui import QDesktopServices


def open_folder(folder: Path) -> str:
    """Ask the desktop to show `folder`; "" when it did, else a line for the window that names the folder."""
    if QDesktopServices.openUrl(QUrl.fromLocalFile(str(folder))):
        return ""
    return f"No file manager could be opened here; the folder is {folder}"
