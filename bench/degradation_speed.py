"""What making a training batch's LR costs on this CPU: bicubic (the reference) beside the realistic
pipeline at each strength, in milliseconds per batch, for the CPU's and the GPU's default batch shapes.

The realistic LR is made per batch in the data path, so it must stay small beside a training step
(about 0.5 s for 8 x 64 px on a 2-core CPU). Crops come from --data photos when given (JPEG time
depends a little on content), else from a generated picture.

    python bench/degradation_speed.py [--data data/photos2k/train] [--batches 30] [--threads 2]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine.training.config import TrainConfig  # noqa: E402
from engine.data.dataset import list_images, make_lr, random_crops  # noqa: E402
from engine.data.degradations import STRENGTHS  # noqa: E402
from engine.io.images import read_pixels  # noqa: E402

SHAPES = [(8, 64), (16, 128)]  # (batch, HR patch): AUTO_SHAPES' CPU and CUDA defaults


def source_images(folder: Path | None) -> list[np.ndarray]:
    if folder is not None:
        return [read_pixels(path, 3) for path in list_images(folder)[:4]]
    y, x = np.mgrid[0:512, 0:512]
    rgb = np.stack([(x * 3) % 256, (y * 2) % 256, ((x * y) // 97) % 256], axis=-1)
    return [np.clip(rgb + np.random.default_rng(0).integers(-12, 13, rgb.shape), 0, 255).astype(np.uint8)]


def milliseconds(config: TrainConfig, images: list[np.ndarray], batches: int) -> tuple[float, float]:
    """(median, slowest) ms of make_lr over `batches` batches of fresh crops and seeds, after one warm-up."""
    rng = np.random.default_rng(0)
    times = []
    for index in range(batches + 1):
        crops = random_crops(images, rng, config.batch_size, config.hr_patch, augment=True)
        hr = torch.from_numpy(crops).permute(0, 3, 1, 2).float().div_(255)
        start = time.perf_counter()
        make_lr(hr, config, torch.Generator().manual_seed(index))
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times[1:]), max(times[1:])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, help="a folder of photos to cut crops from")
    parser.add_argument("--batches", type=int, default=30)
    parser.add_argument("--threads", type=int, help="torch threads (default: torch's choice)")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    images = source_images(args.data)
    methods = {"bicubic": {"degradation": "bicubic"}} | {
        f"realistic {name}": {"degradation": "realistic", "realistic": name} for name in STRENGTHS}
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; x4; ms per batch, median (slowest) "
          f"of {args.batches}; crops from {args.data or 'a generated picture'}")
    print(f"{'batch x HR patch':<18}" + "".join(f"{name:>20}" for name in methods))
    for batch, patch in SHAPES:
        cells = []
        for changes in methods.values():
            config = TrainConfig(scale=4, batch_size=batch, hr_patch=patch, **changes)
            median, slowest = milliseconds(config, images, args.batches)
            cells.append(f"{median:.1f} ({slowest:.0f})")
        print(f"{f'{batch} x {patch}':<18}" + "".join(f"{cell:>20}" for cell in cells), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
