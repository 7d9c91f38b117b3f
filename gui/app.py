"""Start the application: one QApplication, Fusion style with our palette, the main window."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QApplication

from gui.main_window import MainWindow


# Python hands the GIL between threads every 5 ms by default; while the trainer thread runs Python
# between tensor ops, each GIL hand-back the window needs can wait that long, and a repaint needs many.
GIL_SWITCH_INTERVAL_S = 0.001


def configure_process() -> None:
    sys.setswitchinterval(GIL_SWITCH_INTERVAL_S)


def main(argv: Sequence[str] | None = None) -> int:
    configure_process()
    app = QApplication.instance() or QApplication(list(argv if argv is not None else sys.argv))
    app.setOrganizationName("SRGAN Studio")
    app.setApplicationName("SRGAN Studio")
    app.setStyle("Fusion")
    window = MainWindow(QSettings())
    window.show()
    return app.exec()
