"""`python -m engine upscale`: upscale files and folders from the command line.

Exit status: 0 when every image succeeded, 1 when any failed, 2 when the arguments or model are unusable.
"""

from __future__ import annotations

import argparse
import sys

from tqdm import tqdm

from engine.device import UPSCALE_DEVICE_HELP
from engine.events import BackendChosen, BatchDone, ItemDone, ItemFailed, ItemStarted, TileProgress
from engine.io.images import FORMATS
from engine.models.sources import STRENGTH_PARTNERS, WHICH_WEIGHTS
from engine.upscaling.backend import BACKEND_CHOICES
from engine.upscaling.batch import BatchUpscaler, UpscaleOptions

EXIT_OK, EXIT_FAILURES, EXIT_BAD_ARGS = 0, 1, 2


def _tile(text: str) -> int:
    if text == "auto":
        return 0
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected 'auto' or a number of pixels, not {text!r}") from None


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("inputs", nargs="+", metavar="INPUT", help="image files and/or folders")
    parser.add_argument("--model", default="default",
                        help="'default', a bundled model's name, an exported .safetensors, a training "
                             "checkpoint, or a third-party SR model (.pth/.safetensors)")
    parser.add_argument("--which", default="ema", choices=WHICH_WEIGHTS, help="checkpoint weights to use")
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--scale", type=float, help="target scale (default: the model's own)")
    size.add_argument("--width", type=int, help="target width in pixels (aspect ratio kept)")
    parser.add_argument("--out", default="upscaled", help="output folder (default: ./upscaled)")
    parser.add_argument("--tile", type=_tile, default=0, help="tile size in pixels, or 'auto' (default)")
    parser.add_argument("--overlap", type=int, default=16, help="tile overlap in input pixels (default 16)")
    parser.add_argument("--backend", default="auto", choices=BACKEND_CHOICES,
                        help="the inference engine: auto (PyTorch on CUDA/MPS, else ncnn on a Vulkan GPU, else "
                             "on the CPU the engine timed faster for the model here, ncnn until then), torch or "
                             "ncnn")
    parser.add_argument("--time-engines", action="store_true",
                        help="first time PyTorch and ncnn on this CPU with the model (a few seconds), so that "
                             "auto runs the faster from now on (the window does this when its model list shows "
                             "each model's cost)")
    parser.add_argument("--device", default="auto", help=UPSCALE_DEVICE_HELP)
    parser.add_argument("--format", choices=tuple(FORMATS), help="output format (default: the input's, else png)")
    parser.add_argument("--quality", type=int, default=95, help="jpg/webp quality, 1-100 (default 95)")
    parser.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    parser.add_argument("--strength", type=float, metavar="0..1",
                        help="mix the model with its partner: 0 = faithful, 1 = the model's crisp detail "
                             f"(models with a partner: {', '.join(STRENGTH_PARTNERS)})")
    parser.set_defaults(func=run_upscale)


COMMANDS = {"upscale": configure}  # engine.cli.main's table


class _TileBar:
    """One tqdm bar over the tiles of all images: the total is what is known so far plus, for the
    images not yet started, the average tile count of those seen, so the ETA covers the whole batch."""

    def __init__(self) -> None:
        self.bar = tqdm(total=0, unit="tile", file=sys.stderr, dynamic_ncols=True)
        self.finished_tiles = 0
        self.finished_items = 0

    def update(self, event: TileProgress, total_items: int) -> None:
        seen = self.finished_tiles + event.total
        average = seen / (self.finished_items + 1)
        self.bar.total = round(seen + average * (total_items - event.index - 1))
        self.bar.n = self.finished_tiles + event.done
        self.bar.refresh()

    def item_finished(self, event: TileProgress | None) -> None:
        self.finished_items += 1
        if event is not None:
            self.finished_tiles += event.total

    def close(self) -> None:
        self.bar.close()


def _time_engines(model: str) -> None:
    from engine.upscaling.cost import time_cpu_engines

    seconds, chosen = time_cpu_engines(model)
    figures = ", ".join(f"{engine} {value:.2f} s" for engine, value in seconds.items())
    print(f"timed on this CPU, per output megapixel: {figures}; auto runs {chosen.label} here from now on",
          file=sys.stderr)


def run_upscale(args: argparse.Namespace) -> int:
    try:
        if args.time_engines:
            _time_engines(args.model)
        options = UpscaleOptions(model=args.model, which=args.which, backend=args.backend, device=args.device,
                                 tile=args.tile, overlap=args.overlap, out_dir=args.out, format=args.format,
                                 quality=args.quality, overwrite=args.overwrite, scale=args.scale, width=args.width,
                                 strength=args.strength)
        batch = BatchUpscaler(args.inputs, options)
        events = batch.run()
        chosen: BackendChosen = next(events)  # the model, backend and device are checked before the first item
    except ValueError as exc:  # OptionsError, ModelLoadError, or a device this machine lacks
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_ARGS
    except OSError as exc:  # the cache folder of converted models cannot be written
        print(f"error: {exc.strerror or exc}: {exc.filename or ''}", file=sys.stderr)
        return EXIT_BAD_ARGS
    print(f"model: {chosen.model} (x{chosen.scale}) in {chosen.description}", file=sys.stderr)
    if chosen.note:
        print(f"note: {chosen.note}", file=sys.stderr)
    bar = _TileBar()
    total_items, last_progress = 0, None
    summary = BatchDone()
    for event in events:
        if isinstance(event, ItemStarted):
            total_items, last_progress = event.total_items, None
        elif isinstance(event, TileProgress):
            last_progress = event
            bar.update(event, total_items)
        elif isinstance(event, (ItemDone, ItemFailed)):
            bar.item_finished(last_progress)
            for warning in getattr(event, "warnings", ()):
                bar.bar.write(f"warning: {event.path}: {warning}", file=sys.stderr)
        elif isinstance(event, BatchDone):
            summary = event
    bar.close()
    for path, reason in summary.failed:
        print(f"failed: {path}: {reason}", file=sys.stderr)
    if not summary.succeeded and not summary.failed:
        print("no images found in the inputs", file=sys.stderr)
        return EXIT_FAILURES
    state = " (stopped early)" if summary.cancelled else ""
    print(f"upscaled {len(summary.succeeded)} image(s), {len(summary.failed)} failed{state}; output in {args.out}")
    return EXIT_FAILURES if summary.failed or summary.cancelled else EXIT_OK
