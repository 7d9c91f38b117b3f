"""Tiled inference: upscale an image of any size in overlapping tiles, with no visible seam and memory
that stays flat in the image size.

Tiles overlap by `overlap` LR pixels. In each overlap the outer quarter next to a tile's edge (where its
convolutions saw no context) gets weight 0, and a raised-cosine ramp over the middle half hands over
from one tile to the next, so the weights of neighbours sum to 1. Where a tile touches the image border
it keeps weight 1 and sees exactly the zero padding the whole-image network would: with an overlap of at
least 4x the network's receptive radius the result equals the untiled one.

The output (uint8 by default) is filled tile by tile, or handed on a row of tiles at a time; only what
later tiles still blend into is held in float. Several tiles may run at once (`engine.upscaling.tile_threads`).
Tiles are numpy arrays, so any engine can run them (`engine.upscaling.backend`); torch is imported only
by the automatic tile size of a PyTorch model.
"""

from __future__ import annotations

import math
import os
import threading
from collections.abc import Callable, Generator, Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import numpy as np

from engine.device import is_out_of_memory
from engine.io.images import to_float

if TYPE_CHECKING:
    import torch

# (C, h, w) float32 in [0, 1] -> (C, h*scale, w*scale) float32 in [0, 1] (a fresh array: the caller
# weights it in place).
TileForward = Callable[[np.ndarray], np.ndarray]
# Apply fn to each item, yielding the results in order (the builtin `map`, or a backend's tile threads).
TileMap = Callable[[Callable[[np.ndarray], np.ndarray], Iterable[np.ndarray]], Iterator[np.ndarray]]
# Takes finished output rows (hxWxC, in order from the top) as they come.
RowSink = Callable[[np.ndarray], None]
# What the generators below yield while they run: (tiles done, tiles in total).
Progress = tuple[int, int]
T = TypeVar("T")
R = TypeVar("R")

MIN_TILE = 16
CPU_MAX_TILE = 320  # see auto_tile_size
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


def fitted_tile(length: int, tile: int, overlap: int) -> int:
    """The smallest tile side that covers `length` with no more tiles than `tile` needs: the same count,
    spread evenly, without computing overlap beyond what the blend needs (1024 px in tiles of 512 would
    otherwise be three tiles of 512, 2.25x the work of the image)."""
    if length <= tile:
        return length
    count = len(tile_starts(length, tile, overlap))
    effective = _effective_overlap(tile, overlap)
    # Not below 2x the overlap: a smaller tile would blend over a narrower overlap than asked for.
    return min(tile, max(-(-(length - effective) // count) + effective, 2 * overlap))


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
    """One HR weight profile per tile along one axis; 1 inside tiles and at the image borders.

    The profiles are divided by their sum at each position, so they add up to exactly 1 everywhere,
    also where tiles spread over a short axis overlap by more than half (three tiles at one place).
    """
    margin = _effective_overlap(size, overlap) // 4
    profiles = []
    for i, start in enumerate(starts):
        weight = np.ones(size * scale)
        if i > 0:
            weight *= _ramp(size * scale, scale, starts[i - 1] + size - start, margin)
        if i + 1 < len(starts):
            weight *= _ramp(size * scale, scale, start + size - starts[i + 1], margin)[::-1]
        profiles.append(weight)
    total = np.zeros((starts[-1] + size) * scale)
    for start, weight in zip(starts, profiles):
        total[start * scale:(start + size) * scale] += weight
    return [(weight / np.maximum(total[start * scale:(start + size) * scale], 1e-12)).astype(np.float32)
            for start, weight in zip(starts, profiles)]


def _patches(image: np.ndarray, ys: list[int], xs: list[int], tile_h: int,
             tile_w: int) -> Iterator[np.ndarray]:
    """The tiles in row-major order as (C, h, w) float32 arrays, converted one at a time."""
    for y0 in ys:
        for x0 in xs:
            yield np.ascontiguousarray(to_float(image[y0:y0 + tile_h, x0:x0 + tile_w]).transpose(2, 0, 1))


def channels_last(planes: np.ndarray, dtype: type | None = None) -> np.ndarray:
    """(C, h, w) -> a new contiguous (h, w, C) of `dtype` (a cast truncates), one channel at a time: numpy
    copies a transposed view with the 3-long channel axis innermost, 2.7-4x slower here (a 1280-px float
    tile 5.9 ms against 2.2 ms; 640 px cast to uint8 1.3 ms against 0.34 ms)."""
    result = np.empty((*planes.shape[1:], planes.shape[0]), dtype or planes.dtype)
    for channel, plane in enumerate(planes):
        result[..., channel] = plane
    return result


def iter_tiled(image: np.ndarray, forward: TileForward, scale: int, tile: int, overlap: int,
               cancel: threading.Event | None = None, output_dtype: type = np.uint8, run_tiles: TileMap = map,
               sink: RowSink | None = None) -> Generator[Progress, None, np.ndarray | None]:
    """Upscale HxWxC `image` (uint8, uint16 or float in [0, 1]) tile by tile; yields progress, returns the
    result as `output_dtype` (uint8, uint16 or float32), or None when `sink` takes the finished rows as
    they come instead (top to bottom; the whole result is then never held). `run_tiles` maps a function
    over the tiles (in order; it may run several at once): the network and the weighting run there.

    The weights of overlapping tiles sum to 1 everywhere, so a pixel is the sum of its tiles' weighted
    results. It goes straight to the output once no later tile adds to it; what a later tile still adds
    to is kept in float: the strip on a tile's right (until the next tile of the row) and the rows below
    the current row of tiles (until the next row). Memory holds the output, a few tiles and one
    overlap-high strip of the width, whatever the image size.
    """
    height, width, channels = image.shape
    tile_h, tile_w = fitted_tile(height, tile, overlap), fitted_tile(width, tile, overlap)
    ys, xs = tile_starts(height, tile_h, overlap), tile_starts(width, tile_w, overlap)
    y_weights, x_weights = feather(ys, tile_h, scale, overlap), feather(xs, tile_w, scale, overlap)
    output = None if sink else np.empty((height * scale, width * scale, channels), dtype=output_dtype)
    integer = np.dtype(output_dtype).kind == "u"
    top = float(np.iinfo(output_dtype).max) if integer else 1.0
    profiles = ((y_weights[row], x_weights[col]) for row in range(len(ys)) for col in range(len(xs)))
    whole = len(ys) == len(xs) == 1  # one tile: its weight is 1 everywhere

    def in_range(values: np.ndarray, weight: np.ndarray | float) -> np.ndarray:
        """For an integer output: clamped to [0, 1] (a blend of values in range stays in range: the sum
        needs no clipping), times the weight, scaled to the output's range, with half a level added so
        that the final cast rounds."""
        np.clip(values, 0.0, 1.0, out=values)
        np.multiply(values, weight * top, out=values)
        return np.add(values, weight * 0.5, out=values)

    def weighted(job: tuple[np.ndarray, tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
        """One tile's result times its weight, on the tile threads. A lone tile has no weight and goes
        straight to the output: put in range and cast as it is reordered."""
        patch, (y_weight, x_weight) = job
        if whole:
            planes = forward(patch)
            return channels_last(in_range(planes, 1.0) if integer else planes, output_dtype)
        result = channels_last(forward(patch))
        weight = (y_weight[:, None] * x_weight[None, :])[..., None]
        return in_range(result, weight) if integer else np.multiply(result, weight, out=result)

    total, done = len(ys) * len(xs), 0
    carried = np.zeros((0, width * scale, channels), np.float32)  # what the next row of tiles adds to
    results = iter(run_tiles(weighted, zip(_patches(image, ys, xs, tile_h, tile_w), profiles)))
    try:
        for row, y0 in enumerate(ys):
            final = ((ys[row + 1] if row + 1 < len(ys) else height) - y0) * scale  # rows no later tile touches
            below = np.empty((tile_h * scale - final, width * scale, channels), np.float32)
            done_rows = (np.empty((final, width * scale, channels), output_dtype) if output is None
                         else output[y0 * scale:y0 * scale + final])
            pending = np.zeros((tile_h * scale, 0, channels), np.float32)
            for col, x0 in enumerate(xs):
                if cancel is not None and cancel.is_set():
                    raise UpscaleCancelled()
                values = next(results)
                if pending.size:
                    values[:, : pending.shape[1]] += pending
                right = ((xs[col + 1] if col + 1 < len(xs) else width) - x0) * scale  # columns that are done
                columns = slice(x0 * scale, x0 * scale + right)
                if carried.size:
                    values[: len(carried), :right] += carried[:, columns]
                below[:, columns] = values[final:, :right]
                done_rows[:, columns] = values[:final, :right]  # an integer cast truncates: see in_range()
                pending = values[:, right:].copy()  # a copy, so that this tile's result can be freed now
                done += 1
                yield done, total
            if sink is not None:
                sink(done_rows)
            carried = below
    finally:
        getattr(results, "close", lambda: None)()
    return output


def iter_tiled_halving(image: np.ndarray, forward: TileForward, scale: int, tile: int, overlap: int,
                       cancel: threading.Event | None = None, output_dtype: type = np.uint8,
                       run_tiles: TileMap = map, sink: RowSink | None = None,
                       after_out_of_memory: Callable[[], None] = lambda: None,
                       ) -> Generator[Progress, None, np.ndarray | None]:
    """`iter_tiled`, restarted with half the tile size each time the device runs out of memory (with a
    `sink`, only while it has no rows yet: rows it has taken cannot be taken back); `after_out_of_memory`
    lets the device give its cached memory back before the retry."""
    tile = min(tile, max(image.shape[:2]))
    emitted = 0

    def counting(rows: np.ndarray) -> None:
        nonlocal emitted
        emitted += len(rows)
        sink(rows)

    while True:
        try:
            return (yield from iter_tiled(image, forward, scale, tile, overlap, cancel, output_dtype, run_tiles,
                                          counting if sink else None))
        except Exception as exc:
            if not is_out_of_memory(exc):
                raise
            if emitted:
                raise MemoryError(f"out of memory after {emitted} rows were written; try a smaller tile") from None
            if tile <= MIN_TILE:
                raise MemoryError(f"out of memory even with {MIN_TILE}-pixel tiles") from None
            tile = max(MIN_TILE, tile // 2)
            after_out_of_memory()


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


def activation_bytes_per_pixel(widest_channels: int, scale: int, bytes_per_value: int) -> int:
    """A deliberately generous guess of memory per LR pixel: the widest conv layer, as if it ran at HR,
    three times over (input, output and workspace)."""
    return bytes_per_value * widest_channels * scale * scale * 3


def _fitting_side(budget: float, workers: int, bytes_per_pixel: int, cap: int) -> int:
    side = int(math.sqrt(budget / workers / bytes_per_pixel))
    return max(MIN_TILE, min(cap, side // 16 * 16))


def cpu_tile_size(widest_channels: int, scale: int, bytes_per_value: int = 4, workers: int = 1) -> int:
    """`auto_tile_size` on the CPU for a network whose widest convolution has `widest_channels` outputs
    (what an engine other than PyTorch knows of it)."""
    return _fitting_side(available_ram_bytes() * 0.25, workers,
                         activation_bytes_per_pixel(widest_channels, scale, bytes_per_value), CPU_MAX_TILE)


def auto_tile_size(device: torch.device, widest_channels: int, scale: int, bytes_per_value: int = 4,
                   workers: int = 1) -> int:
    """The tile side (multiple of 16) to run a network with (its widest convolution `widest_channels`
    wide): the largest whose activations, for each of
    `workers` tiles in flight, fit the free memory of `device` with room to spare, up to a cap.

    Bigger is faster on GPUs. On CPUs too, up to a point, once freed memory stays in the process
    (engine.upscaling.heap): measured here (default-x4, one thread, CPU time), the network runs about as fast per
    pixel on 192-px tiles as on 384-px, 512-px or whole-image ones, so what decides is the overlap that
    tiles recompute: a 1024-px side in 128-px tiles computes 1.27x its pixels, in 192-px ones 1.16x, in
    320-px ones (fitted to 268) 1.10x, in 384-px ones (fitted to 352) 1.06x. Memory decides the cap: a
    4000x4000 x4 run (two tile threads, rows streamed to the PNG) peaked 0.46 GiB above what Python,
    torch and the model hold (0.84 GiB) with 256-px tiles, 0.60 GiB with 320 and 0.77-0.82 GiB with 384;
    the issue's bound is the output's bytes (0.72 GiB) + 1 GiB in all.
    """
    if device.type == "mps":
        return MPS_TILE  # MPS reports no free memory; a fixed size is the safe choice
    if device.type != "cuda":
        return cpu_tile_size(widest_channels, scale, bytes_per_value, workers)
    import torch  # a PyTorch model's question: only its backend asks it

    budget = torch.cuda.mem_get_info(device)[0] * 0.5
    return _fitting_side(budget, workers, activation_bytes_per_pixel(widest_channels, scale, bytes_per_value),
                         GPU_MAX_TILE)


def tile_for_workers(height: int, width: int, tile: int, overlap: int, workers: int) -> int:
    """`tile`, or a smaller side that cuts an image which `tile` would leave whole into at least `workers`
    tiles (along its longer side), so that every worker has one."""
    length, short = max(height, width), min(height, width)
    if workers <= 1 or len(tile_starts(length, min(tile, length), overlap)) >= workers:
        return tile
    cut = max(MIN_TILE, -(-(length - overlap) // workers) + overlap)
    # As wide as the short side when that still cuts the long one enough: the short side stays whole.
    return short if cut < short and len(tile_starts(length, short, overlap)) >= workers else cut
