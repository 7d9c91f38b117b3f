"""The Upscale tab's screenshot scenes, which scripts/screenshot_driver.py takes after its own: a queue of
five images, one of them failed and two saved, with the compare view at Fit; then the compare view at
1:1 on a detail. Each at 1600x1000 and 1024x700.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QSettings

from gui.common.event_loop import spin
from gui.main_window import MainWindow
from gui.upscale.queue_entry import State
from gui.train.panel import REPO_SAMPLES

SIZES = ((1600, 1000), (1024, 700))
SAMPLES = (3, 7, 12, 20)  # which bundled sample photos to queue


def wait_until(done: Callable[[], bool], timeout: float) -> None:
    spin(done, timeout)
    if not done():
        raise TimeoutError("the window did not get there in time")


def settle() -> None:
    """Let layouts, the view's scaling and repaints happen."""
    spin(lambda: False, timeout=0.3)


def fill_queue(window: MainWindow, work: Path) -> None:
    """Four sample photos and one damaged file upscaled with the default model; two results saved."""
    upscale = window.upscale
    broken = work / "scan-damaged.jpg"
    broken.write_bytes(b"\xff\xd8\xff\xe0 cut off in transfer")
    photos = sorted(REPO_SAMPLES.glob("*.jpg"))
    upscale.add_paths([str(photos[i]) for i in SAMPLES[:2]] + [str(broken)] + [str(photos[i]) for i in SAMPLES[2:]])
    wait_until(lambda: not upscale.queue.with_state(State.QUEUED, State.RUNNING), 600)
    done = upscale.queue.with_state(State.DONE)[:2]
    fmt = upscale.settings.file_format()
    upscale.saver.save([(entry, upscale._target(entry, fmt), fmt) for entry in done], 95)
    wait_until(lambda: not upscale.is_running(), 120)
    upscale.queue.select([upscale.queue.with_state(State.DONE)[1]])


def shoot(theme: str, out: Path, work: Path) -> list[Path]:
    settings = QSettings(str(work / f"upscale-{theme}.ini"), QSettings.Format.IniFormat)
    settings.setValue("upscale/output_dir", str(work / theme / "Pictures" / "Upscaled"))
    window = MainWindow(settings, runs_dir=work / f"runs-{theme}")
    window.apply_theme(theme)
    window.tabs.setCurrentWidget(window.upscale)
    window.resize(*SIZES[0])
    window.show()
    fill_queue(window, work)
    shots = []
    compare = window.upscale.compare
    for width, height in SIZES:
        window.resize(width, height)
        settle()
        compare.fit()
        compare.set_split(0.5)
        settle()
        shots.append(out / f"upscale-queue-{theme}-{width}x{height}.png")
        window.grab().save(str(shots[-1]))
        compare.actual_size()
        compare.set_split(0.42)
        settle()
        shots.append(out / f"upscale-compare-{theme}-{width}x{height}.png")
        window.grab().save(str(shots[-1]))
    window.close()
    wait_until(lambda: not window.isVisible(), 60)
    return shots
