"""Make paired training data in which a strong, slow teacher model's output is the HR target.

A small network trained against the original photos learns the average of every sharp picture that
could have made a noisy, blurred LR, and that average is soft. Trained against what Real-ESRGAN x4plus
makes of the same LR, it learns one crisp answer: the teacher's. Each photo gives random crops (also
from a half-size copy, for detail at other scales); each crop is degraded as in training (the engine's
realistic degradation, seeded), and the teacher upscales the LR. The result is an hr/ and lr/ folder
pair that `python -m engine train --data OUT` reads as paired data.

    python scripts/make_distill_pairs.py data/photos2k/train data/distill-x4plus/train \\
        [--teacher realesrgan-x4plus] [--crops 5] [--crop 256] [--seed 0]
    python scripts/make_distill_pairs.py data/photos2k/val data/distill-x4plus/val --original
        # held-out pairs with the original crop as HR, to score against the truth
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from engine.data.dataset import random_crops  # noqa: E402
from engine.data.pairs import LAYOUT  # noqa: E402
from engine.io.images import resize, save_image  # noqa: E402
from engine.models.registry import load_model  # noqa: E402
from engine.scoring.pairs import BenchError, degrade_photo, image_paths, load_rgb  # noqa: E402
from engine.upscaling.upscaler import Upscaler  # noqa: E402

SIZES = (1.0, 0.5)  # each photo at full size and at half size


def make_pairs(source: Path, out: Path, teacher: str | None, scale: int, crops: int, side: int, seed: int) -> int:
    """Write out/hr and out/lr; HR is the teacher's upscale of each LR (the original crop when `teacher`
    is None). Returns the number of pairs."""
    upscaler = Upscaler(load_model(teacher), device="cpu") if teacher else None
    if upscaler and upscaler.model.scale != scale:
        raise BenchError(f"the teacher {teacher} upscales x{upscaler.model.scale}, not x{scale}")
    rng = np.random.default_rng(seed)
    written = 0
    for path in image_paths(source, "source"):
        pixels = load_rgb(path)
        for size in SIZES:
            shape = (round(pixels.shape[1] * size), round(pixels.shape[0] * size))
            picture = pixels if size == 1.0 else resize(pixels, shape, Image.Resampling.BICUBIC)
            if min(picture.shape[:2]) < side:
                continue  # too small for a crop at this size
            for crop in random_crops([picture], rng, crops, side, augment=False):
                name = f"{path.stem}-{written:04d}.png"
                lr = degrade_photo(crop, scale, "realistic", "medium", seed + written)  # as the trainer's default
                hr = upscaler.upscale(lr) if upscaler else crop
                save_image(lr, out / LAYOUT[1] / name, overwrite=True)
                save_image(hr, out / LAYOUT[0] / name, overwrite=True)
                written += 1
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("source", type=Path, help="a folder of photos")
    parser.add_argument("out", type=Path, help="where hr/ and lr/ go")
    parser.add_argument("--teacher", default="realesrgan-x4plus", help="bundled model name or model file")
    parser.add_argument("--original", action="store_true", help="HR = the original crop (held-out pairs)")
    parser.add_argument("--crops", type=int, default=5, help="crops per photo and size")
    parser.add_argument("--crop", type=int, default=256, help="HR crop side in pixels (a multiple of --scale)")
    parser.add_argument("--scale", type=int, default=4, help="the teacher's scale; LR = HR crop / scale")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.crop % args.scale:
        parser.error(f"--crop must be a multiple of --scale ({args.scale})")
    try:
        count = make_pairs(args.source, args.out, None if args.original else args.teacher, args.scale, args.crops,
                           args.crop, args.seed)
    except BenchError as exc:
        parser.exit(2, f"error: {exc}\n")
    print(f"{count} pairs in {args.out}")
    return 0 if count else 1


if __name__ == "__main__":
    sys.exit(main())
