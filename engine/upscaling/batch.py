"""Upscaling files and folders: `BatchUpscaler` runs an `engine.upscaling.upscaler.Upscaler` over them and reports
each step as an `engine.events` event.

Outputs are named by `output_name` (the window names its results the same way) and never replace an
input, whatever the options: a result whose name is an input's, or another result's of the same batch, gets
a numbered name instead (photo_x4.png, photo_x4_2.png, ...; see `numbered`).
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Generator, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image

from engine.events import BackendChosen, BatchDone, ItemDone, ItemFailed, ItemRead, ItemStarted, TileProgress
from engine.io.images import (EXTENSIONS, FORMATS, ImageReadError, ImageWriteError, check_output_size,
                              has_image_extension, is_image_file, jpeg_rows, output_format, png_rows, read_image,
                              resize, save_image)
from engine.models.sources import DEFAULT_MODEL, WHICH_WEIGHTS, partner_for_strength
from engine.upscaling.backends import check_choice, open_backend
from engine.upscaling.heap import FreedMemoryKept
from engine.upscaling.tiling import MIN_TILE, UpscaleCancelled, available_ram_bytes, map_progress
from engine.upscaling.upscaler import UPSCALE_PRECISIONS, OptionsError, Upscaler

if TYPE_CHECKING:
    from engine.models.registry import LoadedModel

BatchEvent = BackendChosen | ItemStarted | ItemRead | TileProgress | ItemDone | ItemFailed | BatchDone


def target_size(width: int, height: int, native_scale: int, scale: float | None = None,
                target_width: int | None = None) -> tuple[int, int]:
    """Output (width, height): the model's scale, a target scale, or a target width (aspect kept)."""
    if target_width is not None:
        return target_width, max(1, round(height * target_width / width))
    factor = native_scale if scale is None else scale
    return max(1, round(width * factor)), max(1, round(height * factor))


def check_memory(native: tuple[int, int], size: tuple[int, int], dtype: np.dtype) -> None:
    """MemoryError, saying what it would take, when a result that is held whole (not streamed: another size
    than the model's, alpha, WebP, or kept for the window) would not fit the memory available now. A
    generous estimate: the model-scale result and the resized one each in Pillow's 4 bytes a pixel (8 for
    16 bits), the resized one twice more (array and encoder)."""
    per_pixel = 4 * np.dtype(dtype).itemsize
    needed = (native[0] * native[1] + 3 * size[0] * size[1]) * per_pixel
    available = available_ram_bytes()
    if needed > available:
        raise MemoryError(f"the result would be {size[0]}x{size[1]} pixels ({size[0] * size[1] / 1e6:,.0f} "
                          f"megapixels) and needs about {_gigabytes(needed)} of memory to make, with "
                          f"{_gigabytes(available)} available: choose a smaller size (PNG or JPEG at the model's "
                          f"own scale is written as it is made)")


def _gigabytes(count: int) -> str:
    return f"{count / 1e9:,.1f} GB"


def resize_to(pixels: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Lanczos to `size` (antialiased when shrinking); a no-op when it already has that size."""
    if (pixels.shape[1], pixels.shape[0]) == size:
        return pixels
    return resize(pixels, size, Image.Resampling.LANCZOS)


# ----------------------------------------------------------------------------- batch
@dataclass
class UpscaleOptions:
    """Everything a batch run needs besides its inputs. `tile` 0 = automatic; `out_dir` None = return
    images in the events without writing files; `format` None = the input's format when it is png, jpg
    or webp, else png; `scale` / `width` = a target size instead of the model's own scale; `backend` and
    `device` = the engine and where it runs (engine.upscaling.backends); `strength` (0-1) = the model mixed
    with its partner (engine.models.strength), None (or 1) = the model as it is."""

    model: str = "default"
    which: str = "ema"
    backend: str = "auto"
    device: str = "auto"
    tile: int | str = 0
    overlap: int = 16
    out_dir: str | None = "upscaled"
    format: str | None = None
    quality: int = 95
    overwrite: bool = False
    scale: float | None = None
    width: int | None = None
    keep_tree: bool = True
    return_image: bool = False
    precision: str = "auto"
    max_pixels: int | None = None  # None = Pillow's decompression-bomb limit
    strength: float | None = None

    def __post_init__(self) -> None:
        if self.tile == "auto":
            self.tile = 0
        if self.format == "jpeg":
            self.format = "jpg"
        self.validate()

    def validate(self) -> None:
        """Raise OptionsError naming the first bad option."""
        if self.which not in WHICH_WEIGHTS:
            raise OptionsError(f"which must be one of {', '.join(WHICH_WEIGHTS)}, not {self.which!r}")
        check_choice(self.backend, self.device)
        if not isinstance(self.tile, int) or (self.tile != 0 and self.tile < MIN_TILE):
            raise OptionsError(f"tile must be 'auto' (0) or at least {MIN_TILE} pixels, not {self.tile!r}")
        if self.overlap < 0:
            raise OptionsError(f"overlap must not be negative, not {self.overlap}")
        if self.format is not None and self.format not in FORMATS:
            raise OptionsError(f"format must be one of {', '.join(FORMATS)}, not {self.format!r}")
        if not 1 <= self.quality <= 100:
            raise OptionsError(f"quality must be between 1 and 100, not {self.quality}")
        if self.scale is not None and self.width is not None:
            raise OptionsError("give a target scale or a target width, not both")
        if self.scale is not None and not 0 < self.scale <= 16:
            raise OptionsError(f"scale must be above 0 and at most 16, not {self.scale}")
        if self.width is not None and self.width < 1:
            raise OptionsError(f"width must be at least 1, not {self.width}")
        if self.precision not in UPSCALE_PRECISIONS:
            raise OptionsError(f"precision must be one of {', '.join(UPSCALE_PRECISIONS)}, not {self.precision!r}")
        if self.strength is not None and not 0 <= self.strength <= 1:
            raise OptionsError(f"strength must be between 0 and 1, not {self.strength:g}")


@dataclass(frozen=True)
class InputItem:
    """One image to upscale and the sub-folder of the output folder its result goes to."""

    path: Path
    sub_dir: Path


def _strictly_below(folder: Path | None, entry: Path) -> bool:
    """Is `folder` a sub-folder (at any depth) of `entry`? The output folder is only skipped when it is:
    an output folder that is the input folder itself holds the inputs."""
    return folder is not None and entry.resolve() in folder.parents


def collect_inputs(inputs: Sequence[str | Path], keep_tree: bool = True,
                   exclude: Path | None = None) -> list[InputItem]:
    """Explicit files as given (they fail later if they are not images); folders searched recursively,
    sorted, keeping files with an image extension or image content, skipping anything under `exclude`
    (the output folder) when it lies inside the folder searched."""
    items = []
    for entry in map(Path, inputs):
        if not entry.is_dir():
            items.append(InputItem(entry, Path()))
            continue
        skip = exclude if _strictly_below(exclude, entry) else None
        for path in sorted(entry.rglob("*")):
            if path.is_dir() or (skip is not None and skip in path.resolve().parents):  # broken links stay
                continue
            if has_image_extension(path) or is_image_file(path):
                items.append(InputItem(path, path.parent.relative_to(entry) if keep_tree else Path()))
    return items


def scale_label(factor: float) -> str:
    """4 -> '4', 2.5 -> '2.5', 1.3333 -> '1.33'."""
    return f"{round(factor, 2):g}"


def model_tag(model: str) -> str | None:
    """What a result's name says about the model it was made with: nothing for the default model, else the
    model's name (a file's stem), so one image upscaled with several models gives several names."""
    stem = Path(str(model)).stem
    if stem in ("default", DEFAULT_MODEL):
        return None
    return re.sub(r"[^\w.-]+", "-", stem).strip("-") or "model"


def output_name(source: Path, in_width: int, out_width: int, fmt: str, model: str = "default") -> str:
    """The one naming rule of both front ends: 'photo_x4.png' with the default model, 'photo_faithful-x4_x4.png'
    with another; the scale is the output's width over the input's."""
    tag = model_tag(model)
    scale = scale_label(out_width / in_width)
    return f"{source.stem}{'' if tag is None else '_' + tag}_x{scale}{EXTENSIONS[fmt]}"


def numbered(path: Path, number: int) -> Path:
    """The numbering of a taken name: photo_x4.png -> photo_x4_2.png for number 2."""
    return path.with_name(f"{path.stem}_{number}{path.suffix}")


def free_path(path: Path, taken: set[Path] | frozenset[Path] = frozenset()) -> Path:
    """`path`, or its numbered names from 2 on: the first that neither exists nor is in `taken`."""
    candidate, number = path, 2
    while candidate.exists() or candidate in taken:
        candidate, number = numbered(path, number), number + 1
    return candidate


class OutputNames:
    """Hands out output paths that are never an input's and never another output's of the same batch."""

    def __init__(self, items: Sequence[InputItem]) -> None:
        self._taken = {item.path.resolve() for item in items}

    def claim(self, wanted: Path) -> Path:
        """`wanted`, or its numbered names (_2, _3, ...) when that name is taken."""
        candidate, number = wanted, 2
        while candidate.resolve() in self._taken:
            candidate, number = numbered(wanted, number), number + 1
        self._taken.add(candidate.resolve())
        return candidate


class BatchUpscaler:
    """Upscale files and folders one by one; `run()` yields what happens, `request_stop()` cancels.

    One bad file never stops the batch: it becomes an ItemFailed with a one-line reason.
    """

    def __init__(self, inputs: Sequence[str | Path], options: UpscaleOptions, model: LoadedModel | None = None) -> None:
        self.inputs = list(inputs)
        self.options = options
        self.model = model
        self._stop = threading.Event()

    def request_stop(self) -> None:
        """Thread-safe: the current image stops at its next tile, later ones are not started."""
        self._stop.set()

    def _output_path(self, item: InputItem, loaded_format: str | None, in_width: int, out_width: int,
                     names: OutputNames) -> Path:
        out_format = self.options.format or loaded_format or "png"
        name = output_name(item.path, in_width, out_width, out_format, self.options.model)
        return names.claim(Path(str(self.options.out_dir)) / item.sub_dir / name)

    def _process(self, index: int, item: InputItem, upscaler: Upscaler,
                 names: OutputNames) -> Generator[ItemRead | TileProgress, None, ItemDone]:
        """Read (reported once, with the output size), upscale, resize to the target and write one image."""
        started = time.perf_counter()
        options = self.options
        image = read_image(item.path, options.max_pixels)
        width, height = image.size
        size = target_size(width, height, upscaler.model.scale, options.scale, options.width)
        yield ItemRead(index, str(item.path), image.pixels, image.alpha, image.size, size, image.icc, image.exif)
        out_path = None
        if options.out_dir is not None:
            out_path = self._output_path(item, image.format, width, size[0], names)
            if out_path.exists() and not options.overwrite:
                raise ImageWriteError(f"{out_path} already exists (use overwrite to replace it)")
        pixels = image.pixels if image.alpha is None else np.concatenate([image.pixels, image.alpha[..., None]], 2)
        out_format = options.format or image.format
        if out_path is not None:
            check_output_size(output_format(out_path, options.format), *size)
        streams = out_path is not None and not options.return_image and self._streams(upscaler, pixels, size, out_path)
        if not streams:
            check_memory((width * upscaler.model.scale, height * upscaler.model.scale), size, pixels.dtype)

        def progress(done: int, total: int) -> TileProgress:
            return TileProgress(index, str(item.path), done, total)

        if streams:
            # Rows go to the PNG or JPEG as they are finished: the whole result is never held.
            if out_path.suffix == EXTENSIONS["png"]:
                dtype = np.uint8 if pixels.dtype == np.uint8 else np.uint16
                sink = png_rows(out_path, *size, pixels.shape[2], dtype, image.icc, image.exif, options.overwrite)
            else:
                sink = jpeg_rows(out_path, *size, pixels.shape[2], options.quality, image.icc, image.exif,
                                 options.overwrite)
            with sink as rows:
                yield from map_progress(upscaler.iter_upscale(pixels, self._stop, rows), progress)
            return ItemDone(index, str(item.path), str(out_path), None, time.perf_counter() - started, image.warnings)
        upscaled = yield from map_progress(upscaler.iter_upscale(pixels, self._stop), progress)
        result = resize_to(upscaled, size)
        if out_path is not None:
            save_image(result, out_path, out_format, options.quality, image.icc, image.exif, options.overwrite)
        keep_image = out_path is None or options.return_image
        return ItemDone(index, str(item.path), None if out_path is None else str(out_path),
                        result if keep_image else None, time.perf_counter() - started, image.warnings)

    def _streams(self, upscaler: Upscaler, pixels: np.ndarray, size: tuple[int, int], out_path: Path) -> bool:
        """A PNG or JPEG at the model's own scale from the model's output as it is can be written as it is made."""
        native = (pixels.shape[1] * upscaler.model.scale, pixels.shape[0] * upscaler.model.scale)
        return out_path.suffix in (EXTENSIONS["png"], EXTENSIONS["jpg"]) and size == native and upscaler.streams(pixels)

    def run(self) -> Iterator[BatchEvent]:
        """Yield BackendChosen, then ItemStarted / TileProgress / ItemDone or ItemFailed per image, then
        BatchDone.

        Raises ModelLoadError or OptionsError before any event if the model or options are unusable.
        """
        options = self.options
        if self.model is None and options.strength == 1:  # the model as it is, once it has a partner
            partner_for_strength(options.model)
        opened = open_backend(options.model, options.backend, options.device, options.precision, options.which,
                              self.model, options.strength if self.model is None else None)
        upscaler = Upscaler(opened.backend, tile=int(options.tile), overlap=options.overlap)
        try:
            yield BackendChosen(upscaler.model.name, upscaler.model.scale, opened.backend.description, opened.note)
            with FreedMemoryKept():  # for the whole batch: small images then reuse each other's memory
                yield from self._run_items(upscaler)
        finally:
            upscaler.close()

    def _run_items(self, upscaler: Upscaler) -> Iterator[BatchEvent]:
        options = self.options
        exclude = Path(options.out_dir).resolve() if options.out_dir is not None else None
        items = collect_inputs(self.inputs, options.keep_tree, exclude)
        names = OutputNames(items)
        succeeded: list[str] = []
        failed: list[tuple[str, str]] = []
        for index, item in enumerate(items):
            if self._stop.is_set():
                break
            yield ItemStarted(index, str(item.path), len(items))
            try:
                done = yield from self._process(index, item, upscaler, names)
            except UpscaleCancelled:
                break
            except (ImageReadError, ImageWriteError, MemoryError, OSError, ValueError, RuntimeError) as exc:
                failed.append((str(item.path), str(exc) or type(exc).__name__))
                yield ItemFailed(index, str(item.path), failed[-1][1])
                continue
            succeeded.append(done.output_path or done.path)  # the input's path when nothing was written
            yield done
        yield BatchDone(succeeded, failed, cancelled=self._stop.is_set())
