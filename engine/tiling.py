"""Tiled inference: upscale an image of any size in overlapping tiles, with no visible seam and memory
that stays flat in the image size.

Tiles overlap by `overlap` LR pixels. In each overlap the outer quarter next to a tile's edge (where its
convolutions saw no context) gets weight 0, and a raised-cosine ramp over the middle half hands over
from one tile to the next, so the weights of neighbours sum to 1. Where a tile touches the image border
it keeps weight 1 and sees exactly the zero padding the whole-image network would: with an overlap of at
least 4x the network's receptive radius the result equals the untiled one.

The output is preallocated (uint8 by default) and filled one row of tiles (a band) at a time; only that
band is held in float, with the rows it shares with the next band carried over.
"""

from __future__ import annotations

import math
import os
import threading
from collections.abc import Callable, Generator
from pathlib import Path
from typing import TypeVar

import numpy as np
import torch
from torch import nn

# (1, C, h, w) float32 in [0, 1] on the CPU -> (1, C, h*scale, w*scale) float32 in [0, 1] on the CPU.
TileForward = Callable[[torch.Tensor], torch.Tensor]
# What the generators below yield while they run: (tiles done, tiles in total).
Progress = tuple[int, int]
T = TypeVar("T")
R = TypeVar("R")

MIN_TILE = 16
CPU_MAX_TILE = 512
GPU_MAX_TILE = 1024
MPS_TILE = 256


class UpscaleCancelled(Exception):
    """The cancel event was set; raised between tiles."""


def map_progress(steps: Generator[Progress, None, R], convert: Callable[[int, int], T]) -> Generator[T, None, R]:
    """Re-yield each (done, total) of `steps` as convert(done, total); return what `steps` returns."""
    while True:
        try:
            done, total = next(steps)
        except StopIteration as stop:
            return stop.value
        yield convert(done, total)


def run_to_end(steps: Generator[Progress, None, R], progress: Callable[[int, int], None] | None = None) -> R:
    """Drive a progress generator to its result, telling `progress` (if any) along the way."""
    reported = map_progress(steps, progress or (lambda done, total: None))
    while True:
        try:
            next(reported)
        except StopIteration as stop:
            return stop.value


def _effective_overlap(tile: int, overlap: int) -> int:
    """Overlap can be at most half a tile, or tiles would never advance."""
    return max(0, min(overlap, tile // 2))


def tile_starts(length: int, tile: int, overlap: int) -> list[int]:
    """Start offsets of tiles covering [0, length), evenly spread, neighbours overlapping >= `overlap`."""
    if length <= tile:
        return [0]
    overlap = _effective_overlap(tile, overlap)
    count = math.ceil((length - overlap) / (tile - overlap))
    return [round(i * (length - tile) / (count - 1)) for i in range(count)]


def count_tiles(height: int, width: int, tile: int, overlap: int) -> int:
    return len(tile_starts(height, tile, overlap)) * len(tile_starts(width, tile, overlap))


def _ramp(hr_size: int, scale: int, overlap: int, margin: int) -> np.ndarray:
    """Weights rising from 0 to 1 across an overlap of `overlap` LR pixels, measured from a tile's edge.

    Sampled at HR pixel centres, so a neighbour's ramp read backwards is exactly 1 minus this one.
    """
    lr_pos = (np.arange(hr_size, dtype=np.float64) + 0.5) / scale
    if overlap <= 0:
        return np.ones(hr_size)
    t = np.clip((lr_pos - margin) / (overlap - 2 * margin), 0.0, 1.0)
    return 0.5 - 0.5 * np.cos(np.pi * t)


def feather(starts: list[int], size: int, scale: int, overlap: int) -> list[np.ndarray]:
    """One HR weight profile per tile along one axis; 1 inside tiles and at the image borders."""
    margin = _effective_overlap(size, overlap) // 4
    profiles = []
    for i, start in enumerate(starts):
        weight = np.ones(size * scale)
        if i > 0:
            weight *= _ramp(size * scale, scale, starts[i - 1] + size - start, margin)
        if i + 1 < len(starts):
            weight *= _ramp(size * scale, scale, start + size - starts[i + 1], margin)[::-1]
        profiles.append(weight.astype(np.float32))
    return profiles


def _to_float(pixels: np.ndarray) -> np.ndarray:
    if pixels.dtype == np.uint8:
        return pixels.astype(np.float32) / 255.0
    return pixels.astype(np.float32, copy=False)


def _normalise_into(target: np.ndarray, values: np.ndarray, weights: np.ndarray) -> None:
    """target = values / weights, computed in place on `values` (a finished band: big, not needed after)."""
    if target.dtype == np.uint8:
        np.multiply(values, 255.0 / np.maximum(weights, 1e-12), out=values)
        np.add(values, 0.5, out=values)  # the cast below truncates
        np.clip(values, 0.0, 255.0, out=values)
    else:
        np.divide(values, np.maximum(weights, 1e-12), out=values)
    target[...] = values


def iter_tiled(image: np.ndarray, forward: TileForward, scale: int, tile: int, overlap: int,
               cancel: threading.Event | None = None,
               output_dtype: type = np.uint8) -> Generator[Progress, None, np.ndarray]:
    """Upscale HxWxC `image` (uint8, or float in [0, 1]) tile by tile; yields progress, returns the result.

    Tiles are converted to float one at a time, so the input may stay uint8 whatever its size.
    """
    height, width, channels = image.shape
    tile_h, tile_w = min(tile, height), min(tile, width)
    ys, xs = tile_starts(height, tile_h, overlap), tile_starts(width, tile_w, overlap)
    y_weights, x_weights = feather(ys, tile_h, scale, overlap), feather(xs, tile_w, scale, overlap)
    output = np.empty((height * scale, width * scale, channels), dtype=output_dtype)
    total, done = len(ys) * len(xs), 0
    carried: tuple[np.ndarray, np.ndarray] | None = None
    for row, y0 in enumerate(ys):
        band = np.zeros((tile_h * scale, width * scale, channels), dtype=np.float32)
        band_weight = np.zeros((tile_h * scale, width * scale, 1), dtype=np.float32)
        if carried is not None:
            band[: len(carried[0])] += carried[0]
            band_weight[: len(carried[1])] += carried[1]
        for col, x0 in enumerate(xs):
            if cancel is not None and cancel.is_set():
                raise UpscaleCancelled()
            patch = torch.from_numpy(_to_float(image[y0:y0 + tile_h, x0:x0 + tile_w])).permute(2, 0, 1)[None]
            result = forward(patch)[0].permute(1, 2, 0).numpy()
            weight = (y_weights[row][:, None] * x_weights[col][None, :])[..., None]
            np.multiply(result, weight, out=result)
            band[:, x0 * scale:(x0 + tile_w) * scale] += result
            band_weight[:, x0 * scale:(x0 + tile_w) * scale] += weight
            done += 1
            yield done, total
        next_top = ys[row + 1] if row + 1 < len(ys) else y0 + tile_h
        final = (next_top - y0) * scale
        carried = (band[final:].copy(), band_weight[final:].copy())  # copies, so this band can be freed
        _normalise_into(output[y0 * scale:next_top * scale], band[:final], band_weight[:final])
    return output


def is_out_of_memory(exc: BaseException) -> bool:
    if isinstance(exc, (torch.OutOfMemoryError, MemoryError)):
        return True
    text = str(exc)
    return isinstance(exc, RuntimeError) and ("out of memory" in text or "can't allocate memory" in text)


def iter_tiled_halving(image: np.ndarray, forward: TileForward, scale: int, tile: int, overlap: int,
                       cancel: threading.Event | None = None,
                       output_dtype: type = np.uint8) -> Generator[Progress, None, np.ndarray]:
    """`iter_tiled`, restarted with half the tile size each time the device runs out of memory."""
    tile = min(tile, max(image.shape[:2]))
    while True:
        try:
            return (yield from iter_tiled(image, forward, scale, tile, overlap, cancel, output_dtype))
        except Exception as exc:
            if not is_out_of_memory(exc):
                raise
            if tile <= MIN_TILE:
                raise MemoryError(f"out of memory even with {MIN_TILE}-pixel tiles") from None
            tile = max(MIN_TILE, tile // 2)
            if torch.cuda.is_available():
                torch.cuda.empty_cache()


# ----------------------------------------------------------------------------- automatic tile size
def available_ram_bytes() -> int:
    """MemAvailable from /proc/meminfo (Linux), else free physical pages from sysconf."""
    meminfo = Path("/proc/meminfo")
    if meminfo.exists():
        for line in meminfo.read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return 2 * 1024**3


def activation_bytes_per_pixel(module: nn.Module, scale: int, bytes_per_value: int) -> int:
    """A deliberately generous guess of memory per LR pixel: the widest conv layer, as if it ran at HR,
    three times over (input, output and workspace)."""
    widths = [m.out_channels for m in module.modules() if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))]
    return bytes_per_value * max(widths, default=64) * scale * scale * 3


def auto_tile_size(device: torch.device, module: nn.Module, scale: int, bytes_per_value: int = 4) -> int:
    """A tile side (multiple of 16) that fits the free memory of `device` with room to spare."""
    if device.type == "mps":
        return MPS_TILE  # MPS reports no free memory; a fixed size is the safe choice
    if device.type == "cuda":
        budget, cap = torch.cuda.mem_get_info(device)[0] * 0.5, GPU_MAX_TILE
    else:
        budget, cap = available_ram_bytes() * 0.25, CPU_MAX_TILE
    side = int(math.sqrt(budget / activation_bytes_per_pixel(module, scale, bytes_per_value)))
    return max(MIN_TILE, min(cap, side // 16 * 16))
