"""Drive the real window for screenshots: a short tiny training on the bundled samples (grabbed
mid-run), then an upscale of one sample with the run's weights (grabbed with the result showing), then the
Upscale tab's scenes of scripts/upscale_scenes.py.

Usage: python scripts/screenshot_driver.py OUT_DIR [light|dark ...]
"""

from __future__ import annotations

import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from PySide6.QtCore import QSettings  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from gui.main_window import MainWindow  # noqa: E402
from gui.train_panel import REPO_SAMPLES  # noqa: E402
from gui.upscale_queue import State  # noqa: E402
from scripts import upscale_scenes  # noqa: E402

SETTINGS = {"hr_patch": 64, "batch_size": 4, "gen_features": 16, "gen_blocks": 4, "disc_features": 16,
            "discriminator": "vgg", "steps": 2000, "pretrain_steps": 30, "val_every": 15, "val_count": 4,
            "workers": 0, "checkpoint_every": 50}


def wait_until(app: QApplication, done: Callable[[], bool], timeout: float) -> None:
    end = time.monotonic() + timeout
    while not done():
        if time.monotonic() > end:
            raise TimeoutError("the window did not get there in time")
        app.processEvents()
        time.sleep(0.02)


def shoot(app: QApplication, theme: str, out: Path, work: Path) -> list[Path]:
    settings = QSettings(str(work / f"{theme}.ini"), QSettings.Format.IniFormat)
    window = MainWindow(settings, runs_dir=work / f"runs-{theme}")
    window.apply_theme(theme)
    window.resize(1560, 960)
    window.show()
    train = window.train
    train.data_dir.setText(str(REPO_SAMPLES))
    for name, value in SETTINGS.items():
        train.form.set_value(name, value)
    if not train.start():
        raise RuntimeError(train.error.text())
    wait_until(app, lambda: train.progress.value() >= 90, timeout=240)
    wait_until(app, lambda: False if time.sleep(0.1) else True, timeout=1)  # let the plot timer redraw
    shots = [out / f"train-{theme}.png"]
    window.grab().save(str(shots[-1]))
    train.stop()
    wait_until(app, lambda: not train.is_running(), timeout=120)
    window.tabs.setCurrentWidget(window.upscale)
    upscale = window.upscale
    upscale.model.setCurrentIndex(upscale.model.findText("Current run: EMA"))
    upscale.add_paths([str(sorted(REPO_SAMPLES.glob("*.jpg"))[3])])
    wait_until(app, lambda: not upscale.is_running() and upscale.queue.with_state(State.DONE, State.FAILED), 240)
    upscale.compare.set_split(0.45)
    app.processEvents()
    shots.append(out / f"upscale-{theme}.png")
    window.grab().save(str(shots[-1]))
    window.close()
    wait_until(app, lambda: not window.isVisible(), timeout=60)
    return shots


def main(argv: list[str]) -> int:
    out = Path(argv[1] if len(argv) > 1 else "/tmp/srgan-shots")
    out.mkdir(parents=True, exist_ok=True)
    app = QApplication(argv[:1])
    with tempfile.TemporaryDirectory(prefix="srgan-shots-") as work:
        for theme in argv[2:] or ["light", "dark"]:
            for path in shoot(app, theme, out, Path(work)) + upscale_scenes.shoot(app, theme, out, Path(work)):
                print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
