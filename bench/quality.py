"""How much better than bicubic are our models? PSNR/SSIM on Y (the literature's rule), a perceptual
(VGG) distance and a sharpness proxy per method, and a side-by-side picture of a detailed crop for a
person to judge.

    python bench/quality.py --model default-x4 --model faithful-x4 --data data/photos/val \\
        [--degrade photo|heavy|realistic [--strength medium] [--seed N] [--write-lr DIR]]
        [--classic runs/classic] [--scale 4] [--max-side 1024] [--limit N] [--per-image] [--peer]
        [--side-by-side out.png] [--vgg OTHER_VGG16.safetensors]
    python bench/quality.py --model default-x4 --pairs HR_DIR LR_DIR
    python bench/quality.py --model default-x4 --set5-set14 ../shared/benchmarks

With --data, each image is an original (HR), cropped to at most --max-side pixels (to keep 2-core CPU
runs short) and shrunk as engine/scoring/evaluation.py does for `python -m engine eval` and the shipped models'
figures (Pillow's antialiased bicubic, MATLAB imresize's kernel), or, with --degrade, degraded as real
photos are (engine/scoring/pairs.py): `photo` is a typical web photo (blur 1.2, x1/4, noise 5, JPEG 60), `heavy`
a harsher one, `realistic` the training pipeline itself; all deterministic given --seed. --write-lr saves
such a set for --pairs, which scores any LR files against their originals (names match). With
--set5-set14 the published LR_bicubic inputs are used and HR is cropped to scale x LR, so bicubic's own
score can be checked against the table in that folder's README.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from engine.io.atomic import atomic_write  # noqa: E402
from engine.errors import ConfigError, ModelLoadError  # noqa: E402
from engine.training.config import SCALES  # noqa: E402
from engine.data.degradations import STRENGTHS  # noqa: E402
from engine.scoring.evaluation import SuperResolve, bicubic_baseline, describe, load_upscaler  # noqa: E402
from engine.scoring.metrics import psnr_y, rgb_to_y, ssim_y  # noqa: E402
from engine.training.perceptual import BUNDLED_VGG  # noqa: E402
from engine.training.run_folder import CHECKPOINT, GENERATOR  # noqa: E402
from bench import peer  # noqa: E402
from engine.scoring.pairs import (DEGRADE_CHOICES, BenchError, Pair, benchmark_pairs, degraded_pairs,  # noqa: E402
                         describe_degradation, folder_pairs, given_pairs, write_pairs)
from bench.vgg_distance import VGG_NOTE, VggDistance  # noqa: E402
from engine.scoring.detail import gradient_magnitude, most_detailed_box  # noqa: E402

# Pillow bicubic on the sets' own LR files, as benchmarks/README.md measured it: the check of our pipeline.
EXPECTED_BICUBIC = {("Set5", 4): 28.43, ("Set14", 4): 26.09, ("Set5", 2): 33.67, ("Set14", 2): 30.32}
RUN_FILES = (GENERATOR, CHECKPOINT)  # what a run folder offers, preferred first
FIGURE_CROP = 160  # HR pixels of the side-by-side crop
FIGURE_ROWS = 4  # images in the side-by-side, a row each
DETAIL_NOTE = ("'detail' is a sharpness proxy, not a quality score: mean gradient magnitude of the output's Y "
               "over the original's (1.00 = as much edge energy as the original; blur lowers it, noise and "
               "artefacts raise it too).")
LPIPS_NOTE = ("LPIPS proper is not computed: the lpips package's learned heads weight the channels of "
              "torchvision's VGG16, a separately trained network whose weights cannot be downloaded here; "
              "channel k of the bundled Caffe/Keras VGG16 is not channel k of that one (see bench/vgg_distance.py).")


@dataclass
class Scores:
    """One method's per-image scores over a suite, and its total running time."""

    psnr: list[float] = field(default_factory=list)
    ssim: list[float] = field(default_factory=list)
    detail: list[float] = field(default_factory=list)
    vgg: list[float] = field(default_factory=list)
    seconds: float = 0.0


def mean(values: list[float]) -> float:
    return float(np.mean(values)) if values else math.nan


# ----------------------------------------------------------------------------- methods
def bicubic_method(scale: int) -> SuperResolve:
    return lambda lr: bicubic_baseline(lr, scale)


def resolve_run(source: str) -> str:
    """A run folder stands for its exported generator, or else its checkpoint."""
    path = Path(source)
    if not path.is_dir():
        return source
    for name in RUN_FILES:
        if (path / name).is_file():
            return str(path / name)
    raise BenchError(f"run folder {path} has neither {' nor '.join(RUN_FILES)}")


def model_method(source: str, scale: int) -> tuple[str, SuperResolve]:
    """A model file, bundled model name or run folder, run through the app's own upscaler on the CPU."""
    try:
        upscaler = load_upscaler(resolve_run(source), scale, device="cpu")
    except (ModelLoadError, ConfigError) as exc:
        raise BenchError(f"{source}: {exc}") from None
    return upscaler.model.name, upscaler.upscale


# ----------------------------------------------------------------------------- scoring
def detail_ratio(sr: np.ndarray, hr: np.ndarray, border: int) -> float:
    """Mean gradient magnitude on Y of the output over that of the original (see DETAIL_NOTE)."""
    crop = (slice(border, -border or None),) * 2
    sr_detail, hr_detail = (float(gradient_magnitude(rgb_to_y(x)[crop]).mean()) for x in (sr, hr))
    return sr_detail / max(hr_detail, 1e-12)


def evaluate(pairs: list[Pair], methods: dict[str, SuperResolve], scale: int,
             vgg: VggDistance | None = None, keep: int = 1) -> tuple[dict[str, Scores], list[dict[str, np.ndarray]]]:
    """Score every method on every pair; also return each method's outputs for the first `keep` pairs."""
    scores = {name: Scores() for name in methods}
    kept: list[dict[str, np.ndarray]] = [{} for _ in pairs[:keep]]
    crop = (slice(scale, -scale),) * 2
    for index, pair in enumerate(pairs):
        hr_features = vgg.embed(pair.hr[crop]) if vgg is not None else []
        for name, method in methods.items():
            started = time.perf_counter()
            sr = method(pair.lr)
            scores[name].seconds += time.perf_counter() - started
            if sr.shape != pair.hr.shape:
                raise BenchError(f"{name} made {sr.shape[1]}x{sr.shape[0]} from {pair.name}, "
                                 f"expected {pair.hr.shape[1]}x{pair.hr.shape[0]}")
            scores[name].psnr.append(psnr_y(sr, pair.hr, scale))
            scores[name].ssim.append(ssim_y(sr, pair.hr, scale))
            scores[name].detail.append(detail_ratio(sr, pair.hr, scale))
            if vgg is not None:
                scores[name].vgg.append(vgg.distance(vgg.embed(sr[crop]), hr_features))
            if index < keep:
                kept[index][name] = sr
    return scores, kept


def format_table(scores: dict[str, Scores], baseline: str = "bicubic") -> str:
    base = scores[baseline]
    base_psnr, base_ssim, base_vgg = mean(base.psnr), mean(base.ssim), mean(base.vgg)
    with_vgg = bool(base.vgg)
    width = max(len(name) for name in scores) + 2
    vgg_header = f"{'VGG dist':>10}{'vs bicubic':>12}" if with_vgg else ""
    lines = [f"{'method':<{width}}{'PSNR dB':>9}{'vs bicubic':>12}{'SSIM':>8}{'vs bicubic':>12}"
             f"{'detail':>8}{vgg_header}{'seconds':>9}"]
    for name, s in scores.items():
        psnr, ssim = mean(s.psnr), mean(s.ssim)
        vgg = f"{mean(s.vgg):>10.4f}{mean(s.vgg) / base_vgg:>11.3f}x" if with_vgg else ""
        lines.append(f"{name:<{width}}{psnr:>9.2f}{psnr - base_psnr:>+12.2f}{ssim:>8.4f}"
                     f"{ssim / base_ssim:>11.3f}x{mean(s.detail):>8.2f}{vgg}{s.seconds:>9.1f}")
    return "\n".join(lines)


def format_per_image(names: list[str], scores: dict[str, Scores], baseline: str = "bicubic") -> str:
    """Each image's PSNR per method and its gain over the baseline: where a mean's gain comes from."""
    width = max(len(name) for name in names) + 2
    lines = [f"{'image':<{width}}" + "".join(f"{name:>{max(len(name), 6) + 10}}" for name in scores)]
    for index, image in enumerate(names):
        base = scores[baseline].psnr[index]
        lines.append(f"{image:<{width}}" + "".join(f"{s.psnr[index]:>{max(len(name), 6) + 2}.2f} "
                                                   f"({s.psnr[index] - base:+5.2f})" for name, s in scores.items()))
    return "\n".join(lines)


# ----------------------------------------------------------------------------- figure
def side_by_side(rows: list[tuple[Pair, dict[str, np.ndarray]]], scale: int) -> Image.Image:
    """One row per image: LR (nearest-enlarged, so its pixels stay honest), each method, and the original, on
    that image's crop with the most detail; the labels above the first row. Several images, because one crop
    can flatter or wrong a method (foliage rewards invented texture, an edge rewards clean lines)."""
    size = min(min(FIGURE_CROP, *pair.hr.shape[:2]) // scale * scale for pair, _ in rows)
    gap, label = 4, 16
    grid = [row_panels(pair, outputs, size, scale) for pair, outputs in rows]
    figure = Image.new("RGB", (len(grid[0]) * (size + gap) + gap, label + len(grid) * (size + gap)), "white")
    draw = ImageDraw.Draw(figure)
    for row, panels in enumerate(grid):
        for column, (name, panel) in enumerate(panels):
            x = gap + column * (size + gap)
            if row == 0:
                draw.text((x, 2), name[: size // 6], fill="black")
            figure.paste(panel, (x, label + row * (size + gap)))
    return figure


def row_panels(pair: Pair, outputs: dict[str, np.ndarray], size: int, scale: int) -> list[tuple[str, Image.Image]]:
    (left, top, right, bottom), _ = most_detailed_box(rgb_to_y(pair.hr), size, stride=scale)
    lr_box = (left // scale, top // scale, right // scale, bottom // scale)
    lr_crop = Image.fromarray(pair.lr).crop(lr_box).resize((size, size), Image.Resampling.NEAREST)
    panels = [("LR (nearest)", lr_crop)]
    panels += [(name, Image.fromarray(sr).crop((left, top, right, bottom))) for name, sr in outputs.items()]
    panels.append(("original", Image.fromarray(pair.hr).crop((left, top, right, bottom))))
    return panels


# ----------------------------------------------------------------------------- command line
def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", action="append", default=[], help="a model file, bundled model name or run "
                        "folder (repeatable)")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--data", type=Path, help="a folder of original (HR) photos")
    source.add_argument("--set5-set14", type=Path, metavar="BENCHMARKS", help="a folder holding Set5/ and Set14/")
    source.add_argument("--pairs", type=Path, nargs=2, metavar=("HR_DIR", "LR_DIR"), help="score the LR files of "
                        "LR_DIR against the originals of the same name in HR_DIR (scale x their size)")
    parser.add_argument("--degrade", choices=DEGRADE_CHOICES, help="with --data: degrade the photos as real ones "
                        "are instead of shrinking them cleanly (photo: blur 1.2, x1/4, noise 5, JPEG 60; heavy: "
                        "blur 1.6, noise 10, JPEG 40; realistic: the training pipeline at --strength)")
    parser.add_argument("--strength", choices=tuple(STRENGTHS), default="medium", help="--degrade realistic's")
    parser.add_argument("--seed", type=int, default=0, help="the degraded set's seed (default 0)")
    parser.add_argument("--write-lr", type=Path, metavar="DIR", help="save the degraded set as DIR/HR and DIR/LR")
    parser.add_argument("--classic", help="the classic preset's run folder or model, shown as 'classic'")
    parser.add_argument("--peer", action="store_true", help=f"add the upscaler a user would pick instead, "
                        f"{peer.NAME} (x4 only; slow on a CPU: about a minute per 256x256 input)")
    parser.add_argument("--scale", type=int, default=4, choices=SCALES)
    parser.add_argument("--max-side", type=int, default=1024, help="HR crop limit with --data (default 1024)")
    parser.add_argument("--limit", type=int, help="evaluate only the first N images (per set)")
    parser.add_argument("--per-image", action="store_true", help="also print each image's PSNR per method")
    parser.add_argument("--side-by-side", type=Path, metavar="OUT.png", help="write a comparison picture")
    parser.add_argument("--vgg", type=Path, metavar="WEIGHTS", default=BUNDLED_VGG, help="VGG16 weights "
                        "(.safetensors) for the perceptual distance (default: the bundled ImageNet VGG16)")
    args = parser.parse_args(argv)
    if args.limit is not None and args.limit < 1:
        parser.error("--limit must be at least 1")
    if args.max_side < 16 * args.scale:
        parser.error(f"--max-side must be at least {16 * args.scale}")
    if args.peer and args.scale != peer.SCALE:
        parser.error(f"--peer upscales x{peer.SCALE} only")
    if args.degrade and args.data is None:
        parser.error("--degrade needs --data (the original photos to degrade)")
    if args.write_lr and not args.degrade:
        parser.error("--write-lr needs --degrade (a clean set is made the same way every time)")
    return args


def build_methods(args: argparse.Namespace) -> dict[str, SuperResolve]:
    methods: dict[str, SuperResolve] = {"bicubic": bicubic_method(args.scale)}
    sources = ([("classic", args.classic)] if args.classic else []) + [(None, m) for m in args.model]
    for label, source in sources:
        name, method = model_method(source, args.scale)
        label = label or name
        while label in methods:
            label += "'"
        methods[label] = method
    if args.peer:
        try:
            methods[peer.NAME] = peer.load_peer()
        except peer.PeerUnavailable as exc:
            raise BenchError(str(exc)) from None
    return methods


def suites(args: argparse.Namespace) -> list[tuple[str, list[Pair]]]:
    if args.pairs is not None:
        return [(f"{args.pairs[1]}", given_pairs(*args.pairs, args.scale, args.limit))]
    if args.degrade:
        pairs = degraded_pairs(args.data, args.scale, args.max_side, args.limit, args.degrade, args.strength,
                               args.seed)
        return [(f"{args.data}, degraded ({args.degrade})", pairs)]
    if args.data is not None:
        return [(str(args.data), folder_pairs(args.data, args.scale, args.max_side, args.limit))]
    return [(name, benchmark_pairs(args.set5_set14, name, args.scale, args.limit)) for name in ("Set5", "Set14")]


def protocol(args: argparse.Namespace) -> str:
    """The one line printed above the tables: how HR and LR were made and how they are scored."""
    scoring = f"PSNR/SSIM on Y (BT.601), {args.scale}-px border"
    if args.pairs is not None:
        return (f"HR: the originals in {args.pairs[0]}, cropped to {args.scale} x LR; LR: the files of "
                f"{args.pairs[1]}; {scoring}")
    if args.degrade:
        return (f"HR: centred crops of at most {args.max_side}x{args.max_side} px, sides a multiple of "
                f"{args.scale}; {describe_degradation(args.degrade, args.strength, args.seed, args.scale)}; {scoring}")
    if args.data is not None:
        return describe(args.scale, args.max_side)
    return f"HR cropped to {args.scale} x the published LR_bicubic inputs; {scoring}"


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        methods = build_methods(args)
        vgg = VggDistance(args.vgg)
        all_suites = suites(args)
        if args.write_lr is not None:
            hr_dir, lr_dir = write_pairs(all_suites[0][1], args.write_lr)
            print(f"wrote the set: score it again with --pairs {hr_dir} {lr_dir}")
        print(protocol(args))
        print("means over the images")
        figure_rows: list[tuple[Pair, dict[str, np.ndarray]]] = []
        for suite_name, pairs in all_suites:
            scores, kept = evaluate(pairs, methods, args.scale, vgg, keep=FIGURE_ROWS)
            print(f"\n{suite_name}: {len(pairs)} image(s), x{args.scale}")
            print(format_table(scores))
            if args.per_image:
                print(format_per_image([pair.name for pair in pairs], scores))
            expected = EXPECTED_BICUBIC.get((suite_name, args.scale))
            if expected is not None and args.limit is None:
                print(f"check: bicubic {mean(scores['bicubic'].psnr):.2f} dB "
                      f"(benchmarks/README.md measured {expected:.2f} dB with Pillow)")
            figure_rows = figure_rows or list(zip(pairs, kept))
    except BenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"\n{DETAIL_NOTE}\n{VGG_NOTE}\n{LPIPS_NOTE}")
    if args.side_by_side is not None and figure_rows:
        figure = side_by_side(figure_rows, args.scale)
        args.side_by_side.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(args.side_by_side, lambda tmp: figure.save(tmp, format="PNG"))
        print(f"side-by-side of {', '.join(pair.name for pair, _ in figure_rows)}: {args.side_by_side}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
