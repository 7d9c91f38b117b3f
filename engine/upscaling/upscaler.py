"""`Upscaler`: a loaded model on a device, run tile by tile over one pixel array.

Channels are adapted to the model: grey into an RGB model is replicated and converted back to luma;
colour into a grey model runs on Y of YCbCr with Cb/Cr resized bicubically; alpha goes through a grey
model, or a Lanczos resize otherwise. 8-bit input gives 8-bit output, 16-bit (or float) input 16-bit.
"""

from __future__ import annotations

import threading
import warnings
from collections.abc import Callable, Generator

import numpy as np
import torch
import torch.nn.functional as F
import torch.utils.mkldnn
from PIL import Image
from torch import nn

from engine.archs.networks import ClassicGenerator, CompactGenerator
from engine.device import PRECISIONS, resolve_device
from engine.upscaling.heap import FreedMemoryKept
from engine.io.images import quantize, resize, to_float
from engine.models.registry import LoadedModel
from engine.upscaling.tile_threads import TileThreads
from engine.upscaling.tiling import (Progress, RowSink, auto_tile_size, iter_tiled_halving, map_progress, run_to_end,
                           tile_for_workers)

UPSCALE_PRECISIONS = ("auto", *PRECISIONS)  # auto: half precision on GPUs when the model supports it
# Our own convolution-only networks: channels_last measured faster for them (bench/upscale_speed.py).
# Third-party forwards may .view() their activations, which channels_last breaks, so they keep NCHW.
CHANNELS_LAST_ARCHS = (CompactGenerator, ClassicGenerator)
TileNetwork = Callable[[torch.Tensor], torch.Tensor]
LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)  # ITU-R BT.601, as Pillow's L and YCbCr use
ROWS_PER_STEP = 256  # colour conversions of big results run in blocks of rows, so temporaries stay small


class OptionsError(ValueError):
    """An upscale option is out of range; the message names it."""


def resolve_dtype(precision: str, device: torch.device, model: LoadedModel) -> torch.dtype:
    """fp32 on CPUs; on GPUs half precision when the model supports it. 'auto' prefers fp16: against fp32,
    default-x4 (faithful-x4) comes out at 73 (74) dB PSNR in fp16 and 56 (60) dB in bf16 (measured with
    the CPU's kernels; bench/upscale_speed.py checks it on a GPU)."""
    if precision not in UPSCALE_PRECISIONS:
        raise OptionsError(f"precision must be one of {', '.join(UPSCALE_PRECISIONS)}, not {precision!r}")
    if device.type == "cpu":
        if precision in ("fp16", "bf16"):
            raise OptionsError("half precision (fp16/bf16) is for GPUs; use fp32 or auto on the CPU")
        return torch.float32
    bf16_ok = model.supports_bf16 and device.type == "cuda" and torch.cuda.is_bf16_supported()  # MPS: fp16
    wanted = {"fp32": [], "fp16": ["fp16"], "bf16": ["bf16"], "auto": ["fp16", "bf16"]}[precision]
    for name in wanted:
        if name == "bf16" and bf16_ok:
            return torch.bfloat16
        if name == "fp16" and model.supports_half:
            return torch.float16
    if precision != "auto" and wanted:
        raise OptionsError(f"{model.name} does not support {precision}")
    return torch.float32


def _blocked_compact(net: CompactGenerator) -> TileNetwork:
    """The compact generator with its body in oneDNN's blocked layout, weights packed once (for fp32 on a
    CPU). Measured here, 8 tiles of 268 (352) px on two tile threads, process CPU time: NCHW 1.70 (3.38) s,
    channels_last 1.52 (2.69) s, blocked 1.39 (2.45) s."""
    with warnings.catch_warnings():  # torch declares its oneDNN modules with the deprecated jit.script_method
        warnings.simplefilter("ignore", FutureWarning)
        body = torch.utils.mkldnn.to_mkldnn(nn.Sequential(*net.body))  # new modules; `net` keeps its own

    def forward(x: torch.Tensor) -> torch.Tensor:
        return net.finish(body(x.to_mkldnn()).to_dense(), x)

    return forward


def network_for(device: torch.device, dtype: torch.dtype,
                model: LoadedModel) -> tuple[TileNetwork, torch.memory_format]:
    """How to run `model` there, and the memory layout its input should have: the compact generator's
    blocked body for fp32 on CPUs; channels_last for our convolutional networks on CPUs and CUDA; the
    model as it is, in the default layout, otherwise."""
    module = model.module
    if (device.type == "cpu" and dtype == torch.float32 and isinstance(module, CompactGenerator)
            and torch.backends.mkldnn.is_available()):
        return _blocked_compact(module), torch.contiguous_format
    if device.type in ("cpu", "cuda") and isinstance(module, CHANNELS_LAST_ARCHS):
        return module, torch.channels_last
    return module, torch.contiguous_format


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
    """A model placed on a device, with a tile size and precision; upscales pixel arrays."""

    def __init__(self, model: LoadedModel, device: str | torch.device = "auto", tile: int = 0,
                 overlap: int = 16, precision: str = "auto") -> None:
        self.model = model
        self.device = resolve_device(device) if isinstance(device, str) else device
        self.dtype = resolve_dtype(precision, self.device, model)
        model.module.to(device=self.device, dtype=self.dtype)
        self._network, self.memory_format = network_for(self.device, self.dtype, model)
        model.module.to(memory_format=self.memory_format)
        cores = torch.get_num_threads() if self.device.type == "cpu" else 1
        self._threads = TileThreads(cores) if cores > 1 else None
        bytes_per_value = torch.finfo(self.dtype).bits // 8
        self.tile = tile or auto_tile_size(self.device, model.module, model.scale, bytes_per_value, cores)
        self.overlap = overlap

    def close(self) -> None:
        """Stop the tile threads (they also stop when the Upscaler is garbage-collected)."""
        if self._threads is not None:
            self._threads.close()

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        """One tile through the model: [0, 1] in and out, whatever range the model itself uses."""
        low, high = self.model.value_range
        remap = (low, high) != (0.0, 1.0)
        height, width = x.shape[-2:]
        x = _pad_to_requirements(x, self.model.min_size, self.model.size_multiple)
        with torch.inference_mode():
            x = x.to(self.device, self.dtype).contiguous(memory_format=self.memory_format)
            y = self._network(x * (high - low) + low if remap else x)
            y = y[..., : height * self.model.scale, : width * self.model.scale].float()
            if remap:
                y = y.sub_(low).div_(high - low)
        return y.cpu()

    def _run(self, planes: list[np.ndarray], out_dtype: type, cancel: threading.Event | None,
             sink: RowSink | None = None) -> Generator[Progress, None, list[np.ndarray | None]]:
        """Each HxWxC plane (C = the model's channels) through the tiled model, one after the other."""
        results = []
        workers = self._threads.count if self._threads else 1
        run_tiles = self._threads.map if self._threads else map
        for index, plane in enumerate(planes):
            tile = tile_for_workers(*plane.shape[:2], self.tile, self.overlap, workers)
            steps = iter_tiled_halving(plane, self._forward, self.model.scale, tile, self.overlap, cancel,
                                       out_dtype, run_tiles, sink)
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
