"""How long can the window freeze? A 5 ms QTimer pings the GUI event loop and we record the worst gap
between pings while (a) the real trainer runs, (b) a ~1000x700 image is upscaled and displayed and
(c) Save all writes three 4000x2800 results as PNG.

Usage: python bench/ui_latency.py [--train-seconds 15]   (goal: worst stall under 50 ms)
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PIL import Image  # noqa: E402
from PySide6.QtCore import QElapsedTimer, QSettings, QTimer  # noqa: E402

from engine.archs.networks import CompactGenerator  # noqa: E402
from engine.io.images import read_pixels  # noqa: E402
from engine.models.export import export_generator  # noqa: E402
from gui.app import create_application  # noqa: E402
from gui.common.event_loop import spin  # noqa: E402
from gui.main_window import MainWindow  # noqa: E402
from gui.train.panel import REPO_SAMPLES  # noqa: E402
from gui.upscale.queue_entry import Entry, State  # noqa: E402

PING_MS = 5
# The default preset as a person starts it (GAN from step 1 on the bundled samples), validating (curves, sample
# grid) every few steps so the measured seconds include that work too.
TRAINING = {"preset": "default", "steps": 100_000, "val_every": 4, "checkpoint_every": 1_000_000}


class StallMeter:
    """Records gaps between consecutive 5 ms timer ticks; a gap is how long the loop could not run."""

    def __init__(self) -> None:
        self.gaps: list[float] = []
        self._clock = QElapsedTimer()
        self._timer = QTimer(interval=PING_MS)
        self._timer.timeout.connect(self._tick)

    def start(self) -> None:
        self.gaps.clear()
        self._clock.start()
        self._timer.start()

    def stop(self) -> None:
        self._timer.stop()

    def _tick(self) -> None:
        self.gaps.append(self._clock.nsecsElapsed() / 1e6)
        self._clock.restart()

    def report(self, label: str) -> float:
        gaps = np.array(self.gaps[1:] or [0.0])
        print(f"{label:<30} pings {len(gaps):>5}  worst {gaps.max():6.1f} ms  p99 {np.percentile(gaps, 99):5.1f} ms  "
              f"median {np.median(gaps):4.1f} ms  gaps over 50 ms: {int((gaps > 50).sum())}")
        return float(gaps.max())


def bench_training(window: MainWindow, seconds: float) -> float:
    train = window.train
    train.data_dir.setText(str(REPO_SAMPLES))
    for name, value in TRAINING.items():
        train.form.set_value(name, value)
    if not train.start():
        raise SystemExit(f"training did not start: {train.error.text()}")
    spin(lambda: train.progress.value() >= 1 or not train.is_running(), timeout=120)  # steady training only
    if not train.is_running():
        raise SystemExit(f"training did not start: {train.error.text()}")
    meter = StallMeter()
    meter.start()
    first = train.progress.value()
    spin(lambda: False, timeout=seconds)
    meter.stop()
    steps = train.progress.value() - first
    stop_clock = QElapsedTimer()
    stop_clock.start()
    train.stop()
    spin(lambda: not train.is_running(), timeout=120)
    worst = meter.report(f"training ({steps} steps)")
    print(f"{'':<30} Stop to finished: {stop_clock.elapsed() / 1000:.2f} s (checkpoint and export written)")
    return worst


def bench_upscale(window: MainWindow, work: Path) -> float:
    net = CompactGenerator(3, 16, 4, 4)
    model = export_generator(work / "bench.safetensors", net.state_dict(), net.spec(), net.value_range)
    photo = Image.fromarray(read_pixels(sorted(REPO_SAMPLES.glob("*.jpg"))[0], 3)).resize((1000, 700))
    photo.save(work / "photo.png")
    upscale = window.upscale
    window.tabs.setCurrentWidget(upscale)
    upscale.model.add_model_file(model)
    spin(lambda: False, timeout=0.5)  # the tab's first paint is not part of upscaling
    meter = StallMeter()
    meter.start()
    upscale.add_paths([str(work / "photo.png")])
    spin(lambda: not upscale.is_running() and bool(upscale.queue.with_state(State.DONE, State.FAILED)), 300)
    spin(lambda: False, timeout=0.5)  # include painting the result
    meter.stop()
    entry = upscale.queue.entries[0]
    if entry.state is not State.DONE:
        raise SystemExit(f"upscale failed: {entry.message}")
    return meter.report(f"upscale 1000x700 -> {entry.out_size[0]}x{entry.out_size[1]}")


def bench_save(window: MainWindow, work: Path) -> float:
    """Save all of the upscaled photo and two more rows holding copies of its result."""
    upscale = window.upscale
    done = upscale.queue.entries[0]
    pixels = np.array(done.result.load_full())
    for number in (2, 3):
        copy = Entry(done.path.with_name(f"photo-{number}.png"), done.spec, state=State.DONE, in_size=done.in_size,
                     out_size=done.out_size, before=done.before, result=upscale.store.put(pixels, "after"))
        upscale.queue.add(copy)
    del pixels
    upscale.settings.output_dir.setText(str(work / "saved"))
    spin(lambda: False, timeout=0.5)
    meter = StallMeter()
    meter.start()
    upscale.save_all_button.click()
    spin(lambda: not upscale.is_running(), 300)
    spin(lambda: False, timeout=0.5)  # include painting the rows' "Saved to"
    meter.stop()
    saved = sorted((work / "saved").glob("*.png"))
    if len(saved) != 3:
        raise SystemExit(f"save all wrote {len(saved)} files, not 3")
    width, height = done.out_size
    return meter.report(f"save all 3 x {width}x{height} PNG")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train-seconds", type=float, default=15.0)
    args = parser.parse_args()
    _app = create_application(sys.argv[:1])  # kept referenced while the window runs
    with tempfile.TemporaryDirectory(prefix="srgan-bench-") as tmp:
        work = Path(tmp)
        window = MainWindow(QSettings(str(work / "s.ini"), QSettings.Format.IniFormat), runs_dir=work / "runs")
        window.resize(1500, 950)
        window.show()
        worst = max(bench_training(window, args.train_seconds), bench_upscale(window, work),
                    bench_save(window, work))
        window.close()
    print(f"worst stall {worst:.1f} ms ({'OK' if worst <= 50 else 'ABOVE'} the 50 ms goal)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
