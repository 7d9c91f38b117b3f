"""Run the real Qt event loop until something has happened: how the headless drivers (bench/ and
scripts/ run the window under Xvfb) wait for the window without sleeping through its signals."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QEventLoop, QTimer


def spin(until: Callable[[], bool], timeout: float) -> None:
    """Run a real event loop until `until()` holds (checked every 20 ms) or `timeout` seconds pass."""
    loop = QEventLoop()
    check = QTimer(interval=20)
    check.timeout.connect(lambda: until() and loop.quit())
    QTimer.singleShot(int(timeout * 1000), loop.quit)
    check.start()
    if not until():
        loop.exec()
    check.stop()
