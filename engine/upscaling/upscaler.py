"""`Upscaler`: a model in an inference engine (`engine.upscaling.backend`), run tile by tile over one
pixel array.

Channels are adapted to the model: grey into an RGB model is replicated and converted back to luma;
colour into a grey model runs on Y of YCbCr with Cb/Cr resized bicubically; alpha goes through a grey
model, or a Lanczos resize otherwise. 8-bit input gives 8-bit output, 16-bit (or float) input 16-bit.
This module imports no engine: the same tiling, seams, channels and cancelling serve PyTorch and ncnn.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Generator
from functools import partial
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image

from engine.io.images import quantize, resize, to_float
from engine.upscaling.backend import UPSCALE_PRECISIONS, ModelShape, OptionsError, TileBackend
from engine.upscaling.heap import FreedMemoryKept
from engine.upscaling.tiling import Progress, RowSink, iter_tiled_halving, map_progress, run_to_end, tile_for_workers

if TYPE_CHECKING:
    import torch

    from engine.models.registry import LoadedModel

__all__ = ["UPSCALE_PRECISIONS", "OptionsError", "Upscaler"]
LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)  # ITU-R BT.601, as Pillow's L and YCbCr use
ROWS_PER_STEP = 256  # colour conversions of big results run in blocks of rows, so temporaries stay small


def pad_to_requirements(x: np.ndarray, minimum: int, multiple: int) -> np.ndarray:
    """Pad a (C, h, w) tile (reflect, or replicate where it is too small to reflect) to a size the model
    accepts."""
    height, width = x.shape[-2:]
    pad_h = max(0, max(minimum, -(-height // multiple) * multiple) - height)
    pad_w = max(0, max(minimum, -(-width // multiple) * multiple) - width)
    if pad_h == 0 and pad_w == 0:
        return x
    mode = "reflect" if pad_h < height and pad_w < width else "edge"
    return np.pad(x, ((0, 0), (0, pad_h), (0, pad_w)), mode=mode)


def _by_rows(source: np.ndarray, channels: int, dtype: type,
             convert: Callable[[np.ndarray, slice], np.ndarray]) -> np.ndarray:
    """An HxWx`channels` `dtype` array filled ROWS_PER_STEP rows at a time by convert(float rows, row slice)."""
    result = np.empty((*source.shape[:2], channels), dtype=dtype)
    for top in range(0, source.shape[0], ROWS_PER_STEP):
        rows = slice(top, top + ROWS_PER_STEP)
        result[rows] = quantize(convert(to_float(source[rows]), rows), dtype)
    return result


def _ycbcr(rgb: np.ndarray) -> np.ndarray:
    """Float RGB in [0, 1] -> JPEG (full-range) YCbCr in [0, 1], as Pillow converts."""
    y = rgb @ LUMA
    return np.stack([y, (rgb[..., 2] - y) / 1.772 + 0.5, (rgb[..., 0] - y) / 1.402 + 0.5], axis=-1)


def _rgb(ycbcr: np.ndarray) -> np.ndarray:
    y, cb, cr = ycbcr[..., 0], ycbcr[..., 1] - 0.5, ycbcr[..., 2] - 0.5
    red, blue = y + 1.402 * cr, y + 1.772 * cb
    return np.stack([red, (y - LUMA[0] * red - LUMA[2] * blue) / LUMA[1], blue], axis=-1)


class Upscaler:
    """A model in an engine on a device, with a tile size; upscales pixel arrays.

    `Upscaler(model, device, tile, overlap, precision)` runs a `LoadedModel` in PyTorch;
    `Upscaler(backend, tile=..., overlap=...)` runs any `TileBackend` (see `engine.upscaling.backends`).
    """

    def __init__(self, model: LoadedModel | TileBackend, device: str | torch.device = "auto", tile: int = 0,
                 overlap: int = 16, precision: str = "auto") -> None:
        if not isinstance(model, TileBackend):
            from engine.upscaling.torch_backend import TorchBackend  # only PyTorch's own models need torch

            model = TorchBackend(model, device, precision)
        self.backend = model
        self.model: ModelShape = model.model
        self.tile = tile or model.tile
        self.overlap = overlap

    def close(self) -> None:
        """Release the engine's threads (they also stop when the Upscaler is garbage-collected)."""
        self.backend.close()

    def _forward(self, x: np.ndarray, forward: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
        """One (C, h, w) tile through the model's `forward`: [0, 1] in and out, whatever range the model
        itself uses."""
        low, high = self.model.value_range
        remap = (low, high) != (0.0, 1.0)
        height, width = x.shape[-2:]
        x = pad_to_requirements(x, self.model.min_size, self.model.size_multiple)
        y = forward(x * (high - low) + low if remap else x)
        y = y[:, : height * self.model.scale, : width * self.model.scale]
        if remap:
            y = (y - low) / (high - low)
        return y

    def _run(self, planes: list[np.ndarray], out_dtype: type, cancel: threading.Event | None,
             sink: RowSink | None = None) -> Generator[Progress, None, list[np.ndarray | None]]:
        """Each HxWxC plane (C = the model's channels) through the tiled model, one after the other."""
        results = []
        workers = self.backend.workers
        run_tiles = partial(self.backend.run_tiles, cancel=cancel)
        for index, plane in enumerate(planes):
            height, width = plane.shape[:2]
            if height * width <= self.backend.whole_image_pixels and max(height, width) <= self.tile:
                tile, forward = max(height, width), self.backend.forward_all_cores
            else:
                tile, forward = tile_for_workers(height, width, self.tile, self.overlap, workers), self.backend.forward
            steps = iter_tiled_halving(plane, partial(self._forward, forward=forward), self.model.scale, tile,
                                       self.overlap, cancel, out_dtype, run_tiles, sink,
                                       self.backend.after_out_of_memory)
            # Passes are the same size, so progress over all of them is pass index * total + done.
            overall = map_progress(steps, lambda done, total, k=index: (k * total + done, len(planes) * total))
            results.append((yield from overall))
        return results

    def _model_plane(self, colour: np.ndarray,
                     out_dtype: type) -> tuple[np.ndarray, Callable[[np.ndarray], np.ndarray]]:
        """What the model sees of HxWxC `colour`, and how to turn its output back into C channels."""
        if colour.shape[2] == self.model.in_channels:
            return colour, lambda upscaled: upscaled
        if self.model.in_channels == 1:  # colour into a grey model: Y through the model, Cb/Cr bicubic
            ycbcr = _ycbcr(to_float(colour))

            def add_chroma(luma: np.ndarray) -> np.ndarray:
                chroma = resize(ycbcr[..., 1:], (luma.shape[1], luma.shape[0]), Image.Resampling.BICUBIC)
                return _by_rows(luma, 3, out_dtype,
                                lambda y, rows: _rgb(np.concatenate([y, chroma[rows]], axis=2)))

            return ycbcr[..., :1], add_chroma

        def to_luma(rgb: np.ndarray) -> np.ndarray:  # grey into an RGB model: back to grey
            return _by_rows(rgb, 1, out_dtype, lambda rows, _: (rows @ LUMA)[..., None])

        return np.repeat(colour, 3, axis=2), to_luma

    def streams(self, pixels: np.ndarray) -> bool:
        """Can `iter_upscale` hand this image's rows to a sink: are they the model's output as it is (the
        model's channels, no alpha)?"""
        return (1 if pixels.ndim == 2 else pixels.shape[2]) == self.model.in_channels

    def iter_upscale(self, pixels: np.ndarray, cancel: threading.Event | None = None,
                     sink: RowSink | None = None) -> Generator[Progress, None, np.ndarray | None]:
        """Upscale HxW or HxWxC (C = 1, 2, 3, 4; uint8, uint16 or float in [0, 1]) at the model's scale.

        Yields (tiles done, total); returns HxWxC with the input's channel count: uint8 for uint8 input,
        uint16 otherwise (16-bit precision is kept). With a `sink` (only where `streams(pixels)`), the
        finished rows go to it top to bottom as they come and nothing is returned.
        """
        if pixels.ndim == 2:
            pixels = pixels[..., None]
        if pixels.ndim != 3 or pixels.shape[2] not in (1, 2, 3, 4) or min(pixels.shape[:2]) < 1:
            raise ValueError(f"expected an HxW or HxWxC image with 1 to 4 channels, got shape {pixels.shape}")
        out_dtype = np.uint8 if pixels.dtype == np.uint8 else np.uint16
        if sink is not None:
            if not self.streams(pixels):
                raise ValueError(f"{pixels.shape[2]}-channel rows cannot stream from a "
                                 f"{self.model.in_channels}-channel model")
            with FreedMemoryKept():
                yield from self._run([pixels], out_dtype, cancel, sink)
            return None
        has_alpha = pixels.shape[2] in (2, 4)
        colour = pixels[..., :-1] if has_alpha else pixels
        with FreedMemoryKept():
            plane, restore = self._model_plane(colour, out_dtype)
            alpha_through_model = has_alpha and self.model.in_channels == 1
            planes = [plane, pixels[..., -1:]] if alpha_through_model else [plane]
            results = yield from self._run(planes, out_dtype, cancel)
            upscaled = restore(results[0])
            if not has_alpha:
                return upscaled
            if alpha_through_model:
                alpha = results[1]
            else:
                alpha = quantize(resize(pixels[..., -1:], (upscaled.shape[1], upscaled.shape[0]),
                                        Image.Resampling.LANCZOS), out_dtype)
            return np.concatenate([upscaled, alpha], axis=2)

    def upscale(self, pixels: np.ndarray, cancel: threading.Event | None = None,
                progress: Callable[[int, int], None] | None = None) -> np.ndarray:
        """`iter_upscale`, driven to the end, reporting progress through a callback."""
        return run_to_end(self.iter_upscale(pixels, cancel), progress)
