"""Start the application: one QApplication, Fusion style with our palette, the main window."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QApplication

from gui.main_window import MainWindow


def main(argv: Sequence[str] | None = None) -> int:
    app = QApplication.instance() or QApplication(list(argv if argv is not None else sys.argv))
    app.setOrganizationName("SRGAN Studio")
    app.setApplicationName("SRGAN Studio")
    app.setStyle("Fusion")
    window = MainWindow(QSettings())
    window.show()
    return app.exec()
