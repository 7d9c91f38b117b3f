"""How soon does a new user see the GAN learn? A fresh window (empty settings, no runs) on the bundled
samples with the default preset, Start pressed a few seconds after it opens (its speed measurement is
then under way, as it would be): seconds from the click to the first D and G curve points drawn, the
first preview grid shown and the first validation point drawn; then Stop, and the seconds from the click
to the run's end (checkpoint and export written).

Usage: python bench/train_feedback.py [--after-open 3] [--repeat 1]   (goals: samples <= 30 s, validation <= 60 s,
       Stop <= 1 s; run it under a real or virtual X server, e.g. xvfb-run -a, for a window as people see it)
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from PySide6.QtCore import QSettings  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from gui.app import create_application  # noqa: E402
from gui.main_window import MainWindow  # noqa: E402

TIMEOUT_S = 300


def spin_until(app: QApplication, done: Callable[[], bool], timeout: float = TIMEOUT_S) -> float:
    """Run the event loop until `done()`; the seconds it took (inf on timeout)."""
    start = time.perf_counter()
    while not done():
        if time.perf_counter() - start > timeout:
            return float("inf")
        app.processEvents()
        time.sleep(0.005)
    return time.perf_counter() - start


def drawn(window: MainWindow, key: str) -> bool:
    """Whether the plot shows at least one point of `key` (drawn by the plots' own timer, not just received)."""
    x, _ = window.train.plots.curve(key).getData()
    return x is not None and len(x) > 0


def one_run(app: QApplication, work: Path, after_open: float) -> dict[str, float]:
    window = MainWindow(QSettings(str(work / "settings.ini"), QSettings.Format.IniFormat), runs_dir=work / "runs")
    window.resize(1600, 1000)
    window.show()
    spin_until(app, lambda: False, timeout=after_open)
    train = window.train
    clicked = time.perf_counter()
    train.start_button.click()
    marks: dict[str, float] = {}
    checks = {"D and G curves": lambda: drawn(window, "d_loss") and drawn(window, "g_loss") and drawn(window, "d_fake"),
              "preview grid": lambda: train.previews.grid.crop_count() > 0,
              "validation point": lambda: drawn(window, "psnr")}
    while len(marks) < len(checks) and time.perf_counter() - clicked < TIMEOUT_S and train.is_running():
        for name, check in checks.items():
            if name not in marks and check():
                marks[name] = time.perf_counter() - clicked
        app.processEvents()
        time.sleep(0.005)
    steps = train.progress.value()
    stop_clicked = time.perf_counter()
    train.stop_button.click()
    stopping_shown = train.status.text().startswith("Stopping")
    spin_until(app, lambda: not train.is_running())
    marks["Stop to finished"] = time.perf_counter() - stop_clicked
    print(f"  steps trained: {steps}; 'Stopping…' shown at once: {stopping_shown}; error: {train.error.text() or '-'}")
    window.close()
    spin_until(app, lambda: not window.isVisible(), timeout=60)
    return marks


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--after-open", type=float, default=3.0, help="seconds between opening and Start")
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    app = create_application(sys.argv[:1])
    goals = {"D and G curves": 10.0, "preview grid": 30.0, "validation point": 60.0, "Stop to finished": 1.0}
    for attempt in range(args.repeat):
        with tempfile.TemporaryDirectory(prefix="srgan-feedback-") as work:
            print(f"run {attempt + 1}: default preset, bundled samples, fresh settings")
            marks = one_run(app, Path(work), args.after_open)
        for name, goal in goals.items():
            seconds = marks.get(name, float("inf"))
            print(f"  {name:<18} {seconds:6.2f} s   (goal {goal:g} s: {'OK' if seconds <= goal else 'ABOVE'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
