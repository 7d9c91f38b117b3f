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
import torch
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from engine.data.degradations import MEDIUM, degrade  # noqa: E402
from engine.data.pairs import LAYOUT  # noqa: E402
from engine.io.images import is_image_file, quantize, read_image, resize, save_image, to_float  # noqa: E402
from engine.models.registry import load_model  # noqa: E402
from engine.upscaling.upscaler import Upscaler  # noqa: E402

SIZES = (1.0, 0.5)  # each photo at full size and at half size


def random_crops(pixels: np.ndarray, count: int, side: int, rng: np.random.Generator) -> list[np.ndarray]:
    """`count` crops of side x side, anywhere in the picture (fewer, none, when it is smaller)."""
    height, width = pixels.shape[:2]
    if height < side or width < side:
        return []
    tops = rng.integers(0, height - side + 1, count)
    lefts = rng.integers(0, width - side + 1, count)
    return [pixels[top:top + side, left:left + side] for top, left in zip(tops, lefts)]


def degraded(crop: np.ndarray, scale: int, seed: int) -> np.ndarray:
    """The crop's realistic LR (uint8 HxWx3), as the trainer would make it from this seed."""
    hr = torch.from_numpy(to_float(crop)).permute(2, 0, 1)[None]
    lr = degrade(hr, MEDIUM, scale, torch.Generator().manual_seed(seed))
    return quantize(lr[0].permute(1, 2, 0).numpy(), np.uint8)


def make_pairs(source: Path, out: Path, teacher: str | None, scale: int, crops: int, side: int, seed: int) -> int:
    """Write out/hr and out/lr; HR is the teacher's upscale of each LR (the original crop when `teacher`
    is None). Returns the number of pairs."""
    upscaler = Upscaler(load_model(teacher), device="cpu") if teacher else None
    if upscaler and upscaler.model.scale != scale:
        raise SystemExit(f"the teacher {teacher} upscales x{upscaler.model.scale}, not x{scale}")
    rng = np.random.default_rng(seed)
    written = 0
    for path in sorted(p for p in source.iterdir() if is_image_file(p)):
        pixels = read_image(path).pixels[..., :3]
        for size in SIZES:
            shape = (round(pixels.shape[1] * size), round(pixels.shape[0] * size))
            picture = pixels if size == 1.0 else resize(pixels, shape, Image.Resampling.BICUBIC)
            for crop in random_crops(picture, crops, side, rng):
                name = f"{path.stem}-{written:04d}.png"
                lr = degraded(crop, scale, seed + written)
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
    count = make_pairs(args.source, args.out, None if args.original else args.teacher, args.scale, args.crops,
                       args.crop, args.seed)
    print(f"{count} pairs in {args.out}")
    return 0 if count else 1


if __name__ == "__main__":
    sys.exit(main())
