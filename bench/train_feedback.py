"""How soon does a new user see the GAN learn, and how fast do Stop and Resume answer? A fresh window (empty
settings, no runs) on the bundled samples with the default preset, Start pressed a few seconds after it opens
(its speed measurement is then under way, as it would be): seconds from the click to the first D and G curve
points drawn, the first preview grid shown, the first validation point drawn and the next one (step 1's is
where the run starts; the next shows it learning). Then, --train-s after Start, Stop: seconds from the click
to the run's end (checkpoint and export written); then Resume: seconds from the click to the run restored
(its curves shown, "Resuming…" gone) and to its first new step drawn; then Stop again. Where the Stop and
Resume seconds went is printed beside them (the engine's parts, timed where they run).

Usage: python bench/train_feedback.py [--after-open 3] [--train-s 40] [--repeat 1]
       (goals: samples <= 30 s, validations <= 60 s, Stop <= 1 s, Resume <= 3 s; run it under a real or virtual
       X server, e.g. xvfb-run -a, for a window as people see it)
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from PySide6.QtCore import QSettings  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from engine.data.dataset import TrainingData  # noqa: E402
from engine.training import trainer as trainer_module  # noqa: E402
from engine.training.gan_step import GANStep  # noqa: E402
from engine.training.trainer import Trainer  # noqa: E402
from engine.training.validation import ValidationSet  # noqa: E402
from gui.app import create_application  # noqa: E402
from gui.main_window import MainWindow  # noqa: E402
from gui.train.speed_estimate import SpeedEstimate  # noqa: E402

TIMEOUT_S = 300
GOALS = {"D and G curves": 10.0, "preview grid": 30.0, "validation point": 60.0, "next validation": 60.0,
         "Stop to finished": 1.0, "Resume to restored": 3.0, "Resume to first step": 3.0, "2nd Stop": 1.0}
Span = tuple[str, float, float]


class Parts:
    """Wall-clock spans of the engine's parts that Stop and Resume wait for, recorded where they run."""

    def __init__(self) -> None:
        self.spans: list[Span] = []

    def time(self, owner: Any, name: str, label: str) -> None:
        original = getattr(owner, name)

        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                self.spans.append((label, started, time.perf_counter()))

        setattr(owner, name, timed)

    def between(self, start: float, end: float) -> str:
        """Seconds per part within [start, end], largest first."""
        totals: dict[str, float] = defaultdict(float)
        for label, begun, ended in self.spans:
            overlap = min(ended, end) - max(begun, start)
            if overlap > 0:
                totals[label] += overlap
        return ", ".join(f"{label} {seconds:.2f}" for label, seconds in sorted(totals.items(), key=lambda i: -i[1]))


def instrument() -> Parts:
    parts = Parts()
    parts.time(SpeedEstimate, "wait_idle", "speed probe ending")
    parts.time(trainer_module, "load_checkpoint", "checkpoint read")
    parts.time(TrainingData, "load", "images decoded")
    parts.time(GANStep, "__init__", "networks + VGG built")
    parts.time(ValidationSet, "__init__", "validation crops")
    parts.time(GANStep, "step", "training step")
    parts.time(Trainer, "_capture", "state copied")
    parts.time(trainer_module, "save_checkpoint", "checkpoint written")
    parts.time(Trainer, "_export", "generator exported")
    return parts


def spin_until(app: QApplication, done: Callable[[], bool], timeout: float = TIMEOUT_S) -> float:
    """Run the event loop until `done()`; the seconds it took (inf on timeout)."""
    start = time.perf_counter()
    while not done():
        if time.perf_counter() - start > timeout:
            return float("inf")
        app.processEvents()
        time.sleep(0.005)
    return time.perf_counter() - start


def points(window: MainWindow, key: str) -> int:
    """How many points of `key` the plot shows (drawn by the plots' own timer, not just received)."""
    x, _ = window.train.plots.curve(key).getData()
    return 0 if x is None else len(x)


def one_run(app: QApplication, work: Path, after_open: float, train_s: float, parts: Parts) -> dict[str, float]:
    window = MainWindow(QSettings(str(work / "settings.ini"), QSettings.Format.IniFormat), runs_dir=work / "runs")
    window.resize(1600, 1000)
    window.show()
    spin_until(app, lambda: False, timeout=after_open)
    train = window.train
    clicked = time.perf_counter()
    train.start_button.click()
    marks: dict[str, float] = {}
    checks = {"D and G curves": lambda: points(window, "d_loss") and points(window, "g_loss") and points(window, "d_fake"),
              "preview grid": lambda: train.previews.grid.crop_count() > 0,
              "validation point": lambda: points(window, "psnr") >= 1,
              "next validation": lambda: points(window, "psnr") >= 2}
    while train.is_running() and time.perf_counter() - clicked < TIMEOUT_S:
        elapsed = time.perf_counter() - clicked
        for name, check in checks.items():
            if name not in marks and check():
                marks[name] = elapsed
        if elapsed >= train_s and all(name in marks or elapsed > 2 * GOALS[name] for name in checks):
            break  # a mark not seen by twice its goal counts as never
        app.processEvents()
        time.sleep(0.005)
    print(f"  steps trained before Stop: {train.progress.value()} ({os.getloadavg()[0]:.1f} load average)")
    marks["Stop to finished"] = stop(app, window, parts)
    spin_until(app, lambda: False, timeout=3)  # a person reads "Stopped at step N", then presses Resume
    trained = train.progress.value()
    clicked = time.perf_counter()
    train.resume_button.click()
    marks["Resume to restored"] = spin_until(app, lambda: not train.status.text().startswith("Resuming"))
    marks["Resume to first step"] = spin_until(app, lambda: train.progress.value() > trained) + marks["Resume to restored"]
    print(f"  Resume: {parts.between(clicked, time.perf_counter())}")
    spin_until(app, lambda: False, timeout=5)
    marks["2nd Stop"] = stop(app, window, parts)
    window.close()
    spin_until(app, lambda: not window.isVisible(), timeout=60)
    return marks


def stop(app: QApplication, window: MainWindow, parts: Parts) -> float:
    train = window.train
    clicked = time.perf_counter()
    train.stop_button.click()
    stopping_shown = train.status.text().startswith("Stopping")
    seconds = spin_until(app, lambda: not train.is_running())
    print(f"  Stop at step {train.progress.value()}: 'Stopping…' shown at once: {stopping_shown}; "
          f"{parts.between(clicked, clicked + seconds)}; error: {train.error.text() or '-'}")
    return seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--after-open", type=float, default=3.0, help="seconds between opening and Start")
    parser.add_argument("--train-s", type=float, default=40.0, help="seconds between Start and Stop")
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    app = create_application(sys.argv[:1])
    parts = instrument()
    for attempt in range(args.repeat):
        with tempfile.TemporaryDirectory(prefix="srgan-feedback-") as work:
            print(f"run {attempt + 1}: default preset, bundled samples, fresh settings")
            marks = one_run(app, Path(work), args.after_open, args.train_s, parts)
        for name, goal in GOALS.items():
            seconds = marks.get(name, float("inf"))
            print(f"  {name:<21} {seconds:6.2f} s   (goal {goal:g} s: {'OK' if seconds <= goal else 'ABOVE'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
