"""Does the window's memory stay flat over a long batch? Upscales N images in the real Upscale tab (results
go to the on-disk result store, each one shown as it arrives; with --auto-save each is also written as a
PNG) and prints the process's resident memory along the way, its peak, and beside them the size of the
results, which is what holding them in memory would take.

Usage: python bench/upscale_memory.py [--images 50] [--size 600x400] [--auto-save]
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
from pathlib import Path


sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PIL import Image  # noqa: E402
from PySide6.QtCore import QSettings  # noqa: E402

from gui.common.event_loop import spin  # noqa: E402
from engine.archs.networks import CompactGenerator  # noqa: E402
from engine.io.images import read_pixels  # noqa: E402
from engine.models.export import export_generator  # noqa: E402
from gui.app import create_application  # noqa: E402
from gui.upscale.queue_entry import State  # noqa: E402
from gui.upscale.result_store import ResultStore  # noqa: E402
from gui.train.panel import REPO_SAMPLES  # noqa: E402
from gui.upscale.panel import UpscalePanel  # noqa: E402

MB = 1024 * 1024


def rss_mb() -> float:
    """Resident memory now (Linux /proc; elsewhere the peak so far)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return peak_mb()


def peak_mb() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / MB if sys.platform == "darwin" else peak / 1024


def make_inputs(folder: Path, count: int, size: tuple[int, int]) -> list[Path]:
    """Crops of the bundled sample photos, so results look like real ones (and compress like them)."""
    samples = sorted(REPO_SAMPLES.glob("*.jpg"))
    folder.mkdir(parents=True)
    paths = []
    for index in range(count):
        photo = Image.fromarray(read_pixels(samples[index % len(samples)], 3)).resize(size)
        paths.append(folder / f"photo{index:03d}.png")
        photo.save(paths[-1])
    return paths


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=50)
    parser.add_argument("--size", default="600x400", help="input size WxH (results are 4x that)")
    parser.add_argument("--auto-save", action="store_true", help="also write each result as a PNG")
    args = parser.parse_args()
    width, height = map(int, args.size.split("x"))
    _app = create_application(sys.argv[:1])  # kept referenced while the window runs
    with tempfile.TemporaryDirectory(prefix="srgan-memory-") as tmp:
        work = Path(tmp)
        net = CompactGenerator(3, 16, 4, 4)
        model = export_generator(work / "bench.safetensors", net.state_dict(), net.spec(), net.value_range)
        inputs = make_inputs(work / "in", args.images, (width, height))
        settings = QSettings(str(work / "s.ini"), QSettings.Format.IniFormat)
        settings.setValue("upscale/output_dir", str(work / "out"))
        settings.setValue("upscale/auto_save", args.auto_save)
        panel = UpscalePanel(settings, store=ResultStore(work / "store"))
        panel.model.add_model_file(model)
        panel.resize(1400, 900)
        panel.show()
        spin(lambda: False, timeout=0.5)
        start = rss_mb()
        samples: list[tuple[int, float]] = []
        panel.runner.entry_done.connect(lambda _: samples.append((len(panel.queue.with_state(State.DONE)), rss_mb())))
        panel.add_paths([str(path) for path in inputs])
        spin(lambda: not panel.is_running() and not panel.queue.with_state(State.QUEUED, State.RUNNING), 3600)
        spin(lambda: False, timeout=0.5)
        done = panel.queue.with_state(State.DONE)
        results_mb = sum(e.out_size[0] * e.out_size[1] * 3 for e in done) / MB
        print(f"{len(done)} of {args.images} images {width}x{height} -> {4 * width}x{4 * height}"
              f"{', each saved as PNG' if args.auto_save else ''}")
        print(f"resident memory before the batch {start:7.0f} MB")
        for count, rss in samples:
            if count in (1, 2, 5, 10, 25, 50) or count == len(done):
                print(f"  after {count:>3} result(s)          {rss:7.0f} MB")
        print(f"peak resident memory             {peak_mb():7.0f} MB")
        print(f"results' size (held in memory)   {results_mb:7.0f} MB")
        panel.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
