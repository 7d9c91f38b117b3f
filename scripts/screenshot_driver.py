"""Drive the real window for screenshots, in every theme and size asked for:

- train-THEME-WxH.png: a run of the default preset on the bundled samples, in its GAN phase, with
  validation points and the preview grid (grabbed while it trains);
- runs-THEME-WxH.png: the Runs list (two earlier short runs and that one, stopped), the stopped run
  shown from its checkpoint;
- then the Upscale tab's scenes of scripts/upscale_scenes.py (upscale-queue-*, upscale-compare-*).

Usage: python scripts/screenshot_driver.py OUT_DIR [--themes light dark] [--sizes 1600x1000 1024x700]
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

from engine.training.config import preset  # noqa: E402
from engine.training.trainer import Trainer  # noqa: E402
from gui.main_window import MainWindow  # noqa: E402
from gui.train.panel import REPO_SAMPLES  # noqa: E402
from scripts import upscale_scenes  # noqa: E402

RUN = {"steps": 2000, "val_every": 20, "checkpoint_every": 50, "workers": 0}
EARLIER_RUNS = {"scratch": 24, "classic-init": 12}  # preset -> steps, trained headless before the window opens
SMALL = {"hr_patch": 32, "batch_size": 2, "val_every": 6, "checkpoint_every": 1000, "workers": 0}
GAN_STEPS_SHOWN = 80


def wait_until(app: QApplication, done: Callable[[], bool], timeout: float) -> None:
    end = time.monotonic() + timeout
    while not done():
        if time.monotonic() > end:
            raise TimeoutError("the window did not get there in time")
        app.processEvents()
        time.sleep(0.02)


def settle(app: QApplication, seconds: float = 0.6) -> None:
    """Let the plots' timer redraw every plot and the layout settle."""
    wait_until(app, lambda: False if time.sleep(seconds) else True, timeout=seconds + 5)
    for _ in range(10):
        app.processEvents()


def train_earlier_runs(runs: Path) -> None:
    for name, steps in EARLIER_RUNS.items():
        config = preset(name, data_dir=str(REPO_SAMPLES), out_dir=str(runs / f"earlier-{name}"), steps=steps,
                        pretrain_steps=steps // 2, **SMALL)
        for _ in Trainer(config).run():
            pass


def shoot(app: QApplication, window: MainWindow, path: Path, themes: list[str], sizes: list[str],
          prefix: str) -> list[Path]:
    shots = []
    for theme in themes:
        window.apply_theme(theme)
        for size in sizes:
            width, height = (int(v) for v in size.split("x"))
            window.resize(width, height)
            settle(app)
            shots.append(path / f"{prefix}-{theme}-{size}.png")
            window.grab().save(str(shots[-1]))
    return shots


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--themes", nargs="+", default=["light", "dark"])
    parser.add_argument("--sizes", nargs="+", default=["1600x1000", "1024x700"])
    args = parser.parse_args(argv[1:])
    args.out.mkdir(parents=True, exist_ok=True)
    app = QApplication(argv[:1])
    with tempfile.TemporaryDirectory(prefix="srgan-shots-") as work:
        runs = Path(work) / "runs"
        train_earlier_runs(runs)
        window = MainWindow(QSettings(str(Path(work) / "settings.ini"), QSettings.Format.IniFormat), runs_dir=runs)
        window.show()
        train = window.train
        train.data_dir.setText(str(REPO_SAMPLES))
        for name, value in RUN.items():
            train.form.set_value(name, value)
        if not train.start():
            raise RuntimeError(train.error.text())
        wait_until(app, lambda: train.progress.value() >= GAN_STEPS_SHOWN, timeout=600)
        shots = shoot(app, window, args.out, args.themes, args.sizes, "train")
        train.stop()
        wait_until(app, lambda: not train.is_running(), timeout=120)
        train.left_tabs.setCurrentWidget(train.runs)
        wait_until(app, lambda: train.runs.tree.topLevelItemCount() == len(EARLIER_RUNS) + 1, timeout=60)
        wait_until(app, lambda: train.previews.shown_step() is not None, timeout=60)
        shots += shoot(app, window, args.out, args.themes, args.sizes, "runs")
        window.close()
        wait_until(app, lambda: not window.isVisible(), timeout=60)
        for theme in args.themes:
            shots += upscale_scenes.shoot(theme, args.out, Path(work))
    print("\n".join(str(path) for path in shots))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
