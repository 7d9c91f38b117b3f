"""Start the application: one QApplication, Fusion style with our palette, the app icon, the main window.

`srgan-studio-gui --install-desktop-entry` instead adds the launcher to a Linux/BSD desktop's menus.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QApplication

from engine import __version__
from gui.common.desktop_integration import (APP_ID, APP_NAME, DesktopEntryError, app_icon, install_desktop_entry,
                                     set_windows_app_id)
from gui.common.gui_thread_gc import collect_on_gui_thread

# Python hands the GIL between threads every 5 ms by default; while the trainer thread runs Python
# between tensor ops, each GIL hand-back the window needs can wait that long, and a repaint needs many.
GIL_SWITCH_INTERVAL_S = 0.001


def create_application(argv: Sequence[str]) -> QApplication:
    """The QApplication with this process set up for a responsive window (the benches start it this way too)."""
    sys.setswitchinterval(GIL_SWITCH_INTERVAL_S)
    app = QApplication.instance() or QApplication(list(argv))
    collect_on_gui_thread()
    return app


def parse_args(argv: Sequence[str]) -> tuple[argparse.Namespace, list[str]]:
    """Our options; the rest (Qt's own, e.g. -platform) is left for QApplication."""
    parser = argparse.ArgumentParser(prog="srgan-studio-gui", description=f"Open the {APP_NAME} window.")
    parser.add_argument("--install-desktop-entry", action="store_true",
                        help="add this launcher and its icon to the desktop's application menu "
                             "(under $XDG_DATA_HOME, default ~/.local/share), then exit")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    return parser.parse_known_args(argv[1:])


def install_entry() -> int:
    try:
        written = install_desktop_entry()
    except DesktopEntryError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"installed {written[0]} (icons: {', '.join(str(path) for path in written[1:])})")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(argv if argv is not None else sys.argv)
    args, qt_args = parse_args(argv)
    if args.install_desktop_entry:
        return install_entry()
    from gui.main_window import MainWindow  # imports torch (seconds): not for the options above

    set_windows_app_id()
    app = create_application(argv[:1] + qt_args)
    app.setOrganizationName(APP_NAME)
    app.setApplicationName(APP_NAME)
    app.setApplicationVersion(__version__)
    app.setDesktopFileName(APP_ID)  # Wayland finds the launcher entry, hence the icon, by this id
    app.setWindowIcon(app_icon())
    app.setStyle("Fusion")
    window = MainWindow(QSettings())
    window.show()
    return app.exec()
