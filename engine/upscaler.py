"""Upscaling: `Upscaler` runs a loaded model over one pixel array; `BatchUpscaler` runs it over files and
folders and reports each step as an `engine.events` event.

Channels are adapted to the model: grey into an RGB model is replicated and converted back; colour
into a grey model runs on Y of YCbCr with Cb/Cr resized bicubically; alpha goes through a grey model, or
a Lanczos resize otherwise.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Generator, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from engine.device import DEVICE_CHOICES, resolve_device
from engine.events import BatchDone, ItemDone, ItemFailed, ItemStarted, TileProgress
from engine.imageio import (EXTENSIONS, FORMATS, ImageReadError, ImageWriteError, has_image_extension,
                            is_image_file, read_image, resize, save_image, to_pil)
from engine.models import WHICH_WEIGHTS, LoadedModel, load_model
from engine.tiling import (MIN_TILE, Progress, UpscaleCancelled, auto_tile_size, iter_tiled_halving, map_progress,
                           run_to_end)

PRECISIONS = ("auto", "fp32", "fp16", "bf16")
BatchEvent = ItemStarted | TileProgress | ItemDone | ItemFailed | BatchDone


class OptionsError(ValueError):
    """An upscale option is out of range; the message names it."""


# ----------------------------------------------------------------------------- precision
def resolve_dtype(precision: str, device: torch.device, model: LoadedModel) -> torch.dtype:
    """fp32 on CPUs; on GPUs half precision when the model supports it ('auto' prefers bf16)."""
    if precision not in PRECISIONS:
        raise OptionsError(f"precision must be one of {', '.join(PRECISIONS)}, not {precision!r}")
    if device.type == "cpu":
        if precision in ("fp16", "bf16"):
            raise OptionsError("half precision (fp16/bf16) is for GPUs; use fp32 or auto on the CPU")
        return torch.float32
    bf16_ok = model.supports_bf16 and device.type == "cuda" and torch.cuda.is_bf16_supported()  # MPS: fp16
    wanted = {"fp32": [], "fp16": ["fp16"], "bf16": ["bf16"], "auto": ["bf16", "fp16"]}[precision]
    for name in wanted:
        if name == "bf16" and bf16_ok:
            return torch.bfloat16
        if name == "fp16" and model.supports_half:
            return torch.float16
    if precision != "auto" and wanted:
        raise OptionsError(f"{model.name} does not support {precision}")
    return torch.float32


# ----------------------------------------------------------------------------- pixel helpers
def _to_uint8(pixels: np.ndarray) -> np.ndarray:
    if pixels.dtype == np.uint8:
        return pixels
    return (np.clip(pixels.astype(np.float32), 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def target_size(width: int, height: int, native_scale: int, scale: float | None = None,
                target_width: int | None = None) -> tuple[int, int]:
    """Output (width, height): the model's scale, a target scale, or a target width (aspect kept)."""
    if target_width is not None:
        return target_width, max(1, round(height * target_width / width))
    factor = native_scale if scale is None else scale
    return max(1, round(width * factor)), max(1, round(height * factor))


def resize_to(pixels: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Lanczos to `size` (antialiased when shrinking); a no-op when it already has that size."""
    if (pixels.shape[1], pixels.shape[0]) == size:
        return pixels
    return resize(pixels, size, Image.Resampling.LANCZOS)


def _pad_to_requirements(x: torch.Tensor, minimum: int, multiple: int) -> torch.Tensor:
    """Pad (reflect, or replicate where the tile is too small to reflect) to a size the model accepts."""
    height, width = x.shape[-2:]
    pad_h = max(minimum, -(-height // multiple) * multiple) - height
    pad_w = max(minimum, -(-width // multiple) * multiple) - width
    if pad_h <= 0 and pad_w <= 0:
        return x
    pad_h, pad_w = max(pad_h, 0), max(pad_w, 0)
    mode = "reflect" if pad_h < height and pad_w < width else "replicate"
    return F.pad(x, (0, pad_w, 0, pad_h), mode=mode)


# ----------------------------------------------------------------------------- one image
class Upscaler:
    """A model placed on a device, with a tile size and precision; upscales pixel arrays."""

    def __init__(self, model: LoadedModel, device: str | torch.device = "auto", tile: int = 0,
                 overlap: int = 16, precision: str = "auto") -> None:
        self.model = model
        self.device = resolve_device(device) if isinstance(device, str) else device
        self.dtype = resolve_dtype(precision, self.device, model)
        model.module.to(device=self.device, dtype=self.dtype)
        bytes_per_value = torch.finfo(self.dtype).bits // 8
        self.tile = tile or auto_tile_size(self.device, model.module, model.scale, bytes_per_value)
        self.overlap = overlap

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        """One tile through the model: [0, 1] in and out, whatever range the model itself uses."""
        low, high = self.model.value_range
        remap = (low, high) != (0.0, 1.0)
        height, width = x.shape[-2:]
        x = _pad_to_requirements(x, self.model.min_size, self.model.size_multiple)
        with torch.inference_mode():
            x = x.to(self.device, self.dtype)
            y = self.model.module(x * (high - low) + low if remap else x)
            y = y[..., : height * self.model.scale, : width * self.model.scale].float()
            if remap:
                y = y.sub_(low).div_(high - low)
        return y.cpu()

    def _run(self, planes: list[np.ndarray],
             cancel: threading.Event | None) -> Generator[Progress, None, list[np.ndarray]]:
        """Each HxWxC plane (C = the model's channels) through the tiled model, one after the other."""
        results = []
        for index, plane in enumerate(planes):
            steps = iter_tiled_halving(plane, self._forward, self.model.scale, self.tile, self.overlap, cancel)
            # Passes are the same size, so progress over all of them is pass index * total + done.
            overall = map_progress(steps, lambda done, total, k=index: (k * total + done, len(planes) * total))
            results.append((yield from overall))
        return results

    def _model_plane(self, colour: np.ndarray) -> tuple[np.ndarray, Callable[[np.ndarray], np.ndarray]]:
        """What the model sees of HxWxC `colour`, and how to turn its output back into C channels."""
        if colour.shape[2] == self.model.in_channels:
            return colour, lambda upscaled: upscaled
        if self.model.in_channels == 1:  # colour into a grey model: Y through the model, Cb/Cr bicubic
            ycbcr = to_pil(_to_uint8(colour)).convert("YCbCr")

            def add_chroma(luma: np.ndarray) -> np.ndarray:
                _, cb, cr = ycbcr.resize((luma.shape[1], luma.shape[0]), Image.Resampling.BICUBIC).split()
                return np.asarray(Image.merge("YCbCr", (to_pil(luma), cb, cr)).convert("RGB"))

            return np.asarray(ycbcr)[..., :1], add_chroma
        return np.repeat(colour, 3, axis=2), lambda upscaled: np.asarray(to_pil(upscaled).convert("L"))[..., None]

    def iter_upscale(self, pixels: np.ndarray,
                     cancel: threading.Event | None = None) -> Generator[Progress, None, np.ndarray]:
        """Upscale HxW or HxWxC (C = 1, 2, 3, 4; uint8 or float in [0, 1]) at the model's scale.

        Yields (tiles done, total); returns HxWxC uint8 with the input's channel count.
        """
        if pixels.ndim == 2:
            pixels = pixels[..., None]
        if pixels.ndim != 3 or pixels.shape[2] not in (1, 2, 3, 4) or min(pixels.shape[:2]) < 1:
            raise ValueError(f"expected an HxW or HxWxC image with 1 to 4 channels, got shape {pixels.shape}")
        has_alpha = pixels.shape[2] in (2, 4)
        colour = pixels[..., :-1] if has_alpha else pixels
        plane, restore = self._model_plane(colour)
        alpha_through_model = has_alpha and self.model.in_channels == 1
        planes = [plane, pixels[..., -1:]] if alpha_through_model else [plane]
        results = yield from self._run(planes, cancel)
        upscaled = restore(results[0])
        if not has_alpha:
            return upscaled
        if alpha_through_model:
            alpha = results[1]
        else:
            alpha = resize(_to_uint8(pixels[..., -1:]), (upscaled.shape[1], upscaled.shape[0]),
                            Image.Resampling.LANCZOS)
        return np.concatenate([upscaled, alpha], axis=2)

    def upscale(self, pixels: np.ndarray, cancel: threading.Event | None = None,
                progress: Callable[[int, int], None] | None = None) -> np.ndarray:
        """`iter_upscale`, driven to the end, reporting progress through a callback."""
        return run_to_end(self.iter_upscale(pixels, cancel), progress)


# ----------------------------------------------------------------------------- batch
@dataclass
class UpscaleOptions:
    """Everything a batch run needs besides its inputs. `tile` 0 = automatic; `out_dir` None = return
    images in the events without writing files; `format` None = the input's format when it is png, jpg
    or webp, else png; `scale` / `width` = a target size instead of the model's own scale."""

    model: str = "default"
    which: str = "ema"
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
        if self.device not in DEVICE_CHOICES:
            raise OptionsError(f"device must be one of {', '.join(DEVICE_CHOICES)}, not {self.device!r}")
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
        if self.precision not in PRECISIONS:
            raise OptionsError(f"precision must be one of {', '.join(PRECISIONS)}, not {self.precision!r}")


@dataclass(frozen=True)
class InputItem:
    """One image to upscale and the sub-folder of the output folder its result goes to."""

    path: Path
    sub_dir: Path


def _inside(path: Path, folder: Path | None) -> bool:
    return folder is not None and folder in path.resolve().parents


def collect_inputs(inputs: Sequence[str | Path], keep_tree: bool = True,
                   exclude: Path | None = None) -> list[InputItem]:
    """Explicit files as given (they fail later if they are not images); folders searched recursively,
    sorted, keeping files with an image extension or image content, skipping anything under `exclude`."""
    items = []
    for entry in map(Path, inputs):
        if not entry.is_dir():
            items.append(InputItem(entry, Path()))
            continue
        for path in sorted(entry.rglob("*")):
            if path.is_dir() or _inside(path, exclude):  # broken links stay, to be reported
                continue
            if has_image_extension(path) or is_image_file(path):
                items.append(InputItem(path, path.parent.relative_to(entry) if keep_tree else Path()))
    return items


def scale_label(factor: float) -> str:
    """4 -> '4', 2.5 -> '2.5', 1.3333 -> '1.33'."""
    return f"{round(factor, 2):g}"


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

    def _output_path(self, item: InputItem, loaded_format: str | None, factor: float) -> Path:
        out_format = self.options.format or loaded_format or "png"
        name = f"{item.path.stem}_x{scale_label(factor)}{EXTENSIONS[out_format]}"
        return Path(str(self.options.out_dir)) / item.sub_dir / name

    def _process(self, index: int, item: InputItem,
                 upscaler: Upscaler) -> Generator[TileProgress, None, ItemDone]:
        """Read, upscale, resize to the target and write one image."""
        started = time.perf_counter()
        options = self.options
        image = read_image(item.path, options.max_pixels)
        width, height = image.size
        size = target_size(width, height, upscaler.model.scale, options.scale, options.width)
        out_path = None
        if options.out_dir is not None:
            out_path = self._output_path(item, image.format, size[0] / width)
            if out_path.exists() and not options.overwrite:
                raise ImageWriteError(f"{out_path} already exists (use overwrite to replace it)")
            if out_path.resolve() == item.path.resolve():
                raise ImageWriteError(f"{out_path} is the input itself; choose another output folder")
        pixels = image.pixels if image.alpha is None else np.concatenate([image.pixels, image.alpha[..., None]], 2)
        upscaled = yield from map_progress(upscaler.iter_upscale(pixels, self._stop),
                                           lambda done, total: TileProgress(index, str(item.path), done, total))
        result = resize_to(upscaled, size)
        if out_path is not None:
            save_image(result, out_path, options.format or image.format, options.quality, image.icc, image.exif,
                       options.overwrite)
        keep_image = out_path is None or options.return_image
        return ItemDone(index, str(item.path), None if out_path is None else str(out_path),
                        result if keep_image else None, time.perf_counter() - started)

    def run(self) -> Iterator[BatchEvent]:
        """Yield ItemStarted / TileProgress / ItemDone or ItemFailed per image, then BatchDone.

        Raises ModelLoadError or OptionsError before any item if the model or options are unusable.
        """
        options = self.options
        model = self.model or load_model(options.model, which=options.which)
        upscaler = Upscaler(model, options.device, int(options.tile), options.overlap, options.precision)
        exclude = Path(options.out_dir).resolve() if options.out_dir is not None else None
        items = collect_inputs(self.inputs, options.keep_tree, exclude)
        succeeded: list[str] = []
        failed: list[tuple[str, str]] = []
        for index, item in enumerate(items):
            if self._stop.is_set():
                break
            yield ItemStarted(index, str(item.path), len(items))
            try:
                done = yield from self._process(index, item, upscaler)
            except UpscaleCancelled:
                break
            except (ImageReadError, ImageWriteError, MemoryError, OSError, ValueError, RuntimeError) as exc:
                failed.append((str(item.path), str(exc) or type(exc).__name__))
                yield ItemFailed(index, str(item.path), failed[-1][1])
                continue
            succeeded.append(done.output_path or done.path)  # the input's path when nothing was written
            yield done
        yield BatchDone(succeeded, failed, cancelled=self._stop.is_set())
