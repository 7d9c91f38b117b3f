"""Training speed of the two presets on this machine, side by side: samples per second of one
optimisation step at the same HR patch (128) and batch sizes.

The perceptual loss runs the real VGG architecture of each preset (VGG16 to relu4_3 for classic,
VGG19 to conv5_4 for default) with RANDOM weights: that costs exactly what trained weights cost,
so the timing is right, but the losses are meaningless. Nothing is downloaded.

    python bench/train_speed.py [--batch-sizes 4 16] [--steps 1]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine import events as ev  # noqa: E402
from engine.config import preset  # noqa: E402
from engine.perceptual import vgg_feature_stack  # noqa: E402
from engine.trainer import Trainer  # noqa: E402

PATCH = 128
CASES = [("classic", "gan"), ("default", "pretrain"), ("default", "gan")]


def write_images(folder: Path, count: int = 6, size: int = 192) -> None:
    rng = np.random.default_rng(0)
    for i in range(count):
        y, x = np.mgrid[0:size, 0:size]
        rgb = np.stack([(x * 2 + i * 40) % 256, (y * 3) % 256, (x * y // 64) % 256], axis=-1)
        Image.fromarray(np.clip(rgb + rng.integers(-20, 21, rgb.shape), 0, 255).astype(np.uint8)).save(
            folder / f"bench_{i}.png")


def samples_per_second(name: str, phase: str, batch: int, steps: int, data: Path, out: Path) -> float:
    """Median over steps, each timed from the event before it (PhaseChanged starts the first step)."""
    config = preset(name, data_dir=str(data), out_dir=str(out), hr_patch=PATCH, batch_size=batch, steps=steps,
                    pretrain_steps=steps if phase == "pretrain" else 0, val_every=10**6, checkpoint_every=10**6,
                    val_count=1, device="cpu")
    trainer = Trainer(config, feature_net=vgg_feature_stack(config.perceptual_net))
    stamps = [time.perf_counter() for event in trainer.run() if isinstance(event, (ev.PhaseChanged, ev.StepMetrics))]
    return batch / statistics.median(b - a for a, b in zip(stamps[:-1], stamps[1:]))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[4, 16])
    parser.add_argument("--steps", type=int, default=1, help="timed steps per case (after a batch-1 warm-up)")
    args = parser.parse_args(argv)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, HR patch {PATCH}, CPU, "
          f"VGG with random weights (speed only)")
    print(f"{'batch':>5} {'classic gan':>12} {'default pretrain':>17} {'default gan':>12} "
          f"{'default/classic (gan)':>22}")
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        data.mkdir()
        write_images(data)
        for case in CASES:  # the first step of a network pays one-off kernel set-up; keep it out of the figures
            samples_per_second(*case, 1, 1, data, Path(tmp) / f"warmup-{case[0]}-{case[1]}")
        for batch in args.batch_sizes:
            rates = {case: samples_per_second(*case, batch, args.steps, data, Path(tmp) / "-".join((*case, str(batch))))
                     for case in CASES}
            ratio = rates[("default", "gan")] / rates[("classic", "gan")]
            print(f"{batch:>5} {rates[CASES[0]]:>12.2f} {rates[CASES[1]]:>17.2f} {rates[CASES[2]]:>12.2f} "
                  f"{ratio:>21.2f}x", flush=True)
    print("samples/s: higher is better")
    return 0


if __name__ == "__main__":
    sys.exit(main())
