"""Tiled inference: equal to the whole-image network, seam-free, cancellable, and it survives OOM."""

from __future__ import annotations

import threading
from collections.abc import Generator

import numpy as np
import pytest
import torch

from engine.archs.networks import CompactGenerator
from engine.models.registry import widest_channels
from engine.upscaling import tiling
from engine.upscaling.tile_threads import TileThreads
from engine.upscaling.tiling import (CPU_MAX_TILE, GPU_MAX_TILE, MIN_TILE, UpscaleCancelled, activation_bytes_per_pixel,
                           auto_tile_size, channels_last, feather, fitted_tile, iter_tiled, iter_tiled_halving,
                           tile_for_workers, tile_starts)

SCALE = 4


@pytest.fixture(scope="module")
def net() -> CompactGenerator:
    torch.manual_seed(0)
    return CompactGenerator(3, num_feat=8, num_conv=2, scale=SCALE).eval()


def forward_with(net: CompactGenerator):
    def forward(x: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            return net(torch.from_numpy(x)[None])[0].numpy()
    return forward


def drain(steps: Generator) -> tuple[list[tuple[int, int]], np.ndarray]:
    progress = []
    while True:
        try:
            progress.append(next(steps))
        except StopIteration as stop:
            return progress, stop.value


def whole_image(net: CompactGenerator, image: np.ndarray) -> np.ndarray:
    with torch.inference_mode():
        return net(torch.from_numpy(image).permute(2, 0, 1)[None])[0].permute(1, 2, 0).numpy()


@pytest.mark.parametrize("length,tile,overlap", [(80, 32, 16), (100, 32, 16), (33, 32, 8), (10, 32, 16)])
def test_tiles_cover_the_axis_with_at_least_the_overlap(length: int, tile: int, overlap: int) -> None:
    starts = tile_starts(length, tile, overlap)
    size = min(tile, length)
    assert starts[0] == 0 and starts[-1] + size == length
    assert all(prev + size - nxt >= overlap for prev, nxt in zip(starts, starts[1:]))


@pytest.mark.parametrize("length,tile,overlap", [(100, 32, 16), (50, 32, 16), (1000, 352, 16), (77, 20, 0)])
def test_feather_weights_sum_to_one(length: int, tile: int, overlap: int) -> None:
    """(50, 32, 16) spreads three tiles over 50 px: the middle one overlaps both others by more than half."""
    starts = tile_starts(length, tile, overlap)
    total = np.zeros(length * SCALE)
    for start, weight in zip(starts, feather(starts, tile, SCALE, overlap)):
        total[start * SCALE:(start + tile) * SCALE] += weight
    np.testing.assert_allclose(total, 1.0, atol=1e-6)


def test_tiled_equals_untiled(net: CompactGenerator) -> None:
    image = np.random.default_rng(1).random((80, 72, 3), dtype=np.float32)
    progress, tiled = drain(iter_tiled(image, forward_with(net), SCALE, 32, 16, output_dtype=np.float32))
    assert len(progress) == len(tile_starts(80, 32, 16)) * len(tile_starts(72, 32, 16)) > 4
    assert progress[-1] == (len(progress), len(progress))
    np.testing.assert_allclose(tiled, whole_image(net, image), atol=1e-3)


def test_uint8_input_gives_uint8_output_matching_float(net: CompactGenerator) -> None:
    image = np.random.default_rng(2).integers(0, 256, (40, 40, 3), dtype=np.uint8)
    _, tiled = drain(iter_tiled(image, forward_with(net), SCALE, 24, 16))
    expected = np.clip(whole_image(net, image.astype(np.float32) / 255), 0, 1) * 255
    assert tiled.dtype == np.uint8
    assert np.abs(tiled.astype(np.float32) - expected).max() <= 1.0


def test_flat_ramp_has_no_seam_at_tile_boundaries(net: CompactGenerator) -> None:
    """With an overlap below what exactness needs, the feather still keeps every column-to-column step
    within one 8-bit level of the untiled output's, where abutting tiles leave a visible seam."""
    ramp = np.tile(np.linspace(0.1, 0.9, 96, dtype=np.float32)[None, :, None], (24, 1, 3))
    reference_steps = np.abs(np.diff(whole_image(net, ramp), axis=1)).max(axis=(0, 2))

    def worst_step_change(overlap: int) -> float:
        _, out = drain(iter_tiled(ramp, forward_with(net), SCALE, 32, overlap, output_dtype=np.float32))
        return float(np.abs(np.abs(np.diff(out, axis=1)).max(axis=(0, 2)) - reference_steps).max())

    assert worst_step_change(8) < 1 / 255
    assert worst_step_change(0) > 10 / 255  # abutting tiles: the check above can fail


def test_cancel_stops_between_tiles(net: CompactGenerator) -> None:
    cancel = threading.Event()
    steps = iter_tiled(np.zeros((64, 64, 3), np.float32), forward_with(net), SCALE, 32, 8, cancel)
    assert next(steps) == (1, len(tile_starts(64, 32, 8)) ** 2)
    cancel.set()
    with pytest.raises(UpscaleCancelled):
        next(steps)


def test_out_of_memory_halves_the_tile_and_still_matches(net: CompactGenerator) -> None:
    tried: list[int] = []

    def small_memory_forward(x: np.ndarray) -> np.ndarray:
        tried.append(max(x.shape[-2:]))
        if max(x.shape[-2:]) > 32:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2 GiB")
        return forward_with(net)(x)

    image = np.random.default_rng(3).random((64, 64, 3), dtype=np.float32)
    _, out = drain(iter_tiled_halving(image, small_memory_forward, SCALE, 128, 16, output_dtype=np.float32))
    assert tried[0] == 64 and max(tried[1:]) == 32
    np.testing.assert_allclose(out, whole_image(net, image), atol=1e-3)


def test_out_of_memory_at_the_smallest_tile_is_a_clear_error() -> None:
    def always_oom(x: np.ndarray) -> np.ndarray:
        raise RuntimeError("CUDA out of memory")

    with pytest.raises(MemoryError, match=f"{MIN_TILE}-pixel tiles"):
        drain(iter_tiled_halving(np.zeros((40, 40, 3), np.float32), always_oom, SCALE, 64, 8))


def test_other_errors_are_not_mistaken_for_out_of_memory() -> None:
    def broken(x: np.ndarray) -> np.ndarray:
        raise RuntimeError("shape mismatch")

    with pytest.raises(RuntimeError, match="shape mismatch"):
        drain(iter_tiled_halving(np.zeros((40, 40, 3), np.float32), broken, SCALE, 64, 8))


def test_auto_tile_size_is_bounded_and_shrinks_for_costlier_models(net: CompactGenerator) -> None:
    cheap = auto_tile_size(torch.device("cpu"), widest_channels(net), SCALE)
    costly = auto_tile_size(torch.device("cpu"), widest_channels(torch.nn.Conv2d(3, 4096, 3)), SCALE)
    assert MIN_TILE <= costly <= cheap <= CPU_MAX_TILE
    assert cheap % 16 == 0 and costly % 16 == 0
    assert costly < cheap


@pytest.mark.parametrize("free_mb", [64, 256, 1024, 1 << 20])
@pytest.mark.parametrize("workers", [1, 2, 4])
def test_the_automatic_tile_fits_the_memory_budget(net: CompactGenerator, monkeypatch: pytest.MonkeyPatch,
                                                   free_mb: int, workers: int) -> None:
    """CPU: a quarter of the available RAM for all the tiles in flight; CUDA: half of the free memory."""
    per_pixel = activation_bytes_per_pixel(widest_channels(net), SCALE, 4)
    monkeypatch.setattr(tiling, "available_ram_bytes", lambda: free_mb << 20)
    side = auto_tile_size(torch.device("cpu"), widest_channels(net), SCALE, 4, workers)
    assert side == MIN_TILE or workers * side * side * per_pixel <= (free_mb << 20) / 4
    assert side <= CPU_MAX_TILE and (free_mb < 1 << 20 or side == CPU_MAX_TILE)
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda device=None: (free_mb << 20, 80 << 30))
    side = auto_tile_size(torch.device("cuda"), widest_channels(net), SCALE, 2, workers)
    assert side == MIN_TILE or workers * side * side * activation_bytes_per_pixel(widest_channels(net), SCALE, 2) <= (free_mb << 20) / 2
    assert side <= GPU_MAX_TILE


@pytest.mark.parametrize("tile", [32, 40, 64, 100])
@pytest.mark.parametrize("threads", [1, 2])
def test_any_tiling_gives_the_same_pixels(net: CompactGenerator, tile: int, threads: int) -> None:
    """With an overlap of 4x the receptive radius (4 px here), every tile size, run inline or on tile
    threads, gives the untiled result: the same floats (to 1e-6), and the same 8-bit pixels but where a
    value that close to a rounding boundary falls on the other side (one level, a handful of pixels: the
    convolution kernels a CPU picks for each tile size sum in different orders)."""
    image = np.random.default_rng(5).random((70, 53, 3), dtype=np.float32)
    workers = TileThreads(threads) if threads > 1 else None
    run = workers.map if workers else map
    _, tiled = drain(iter_tiled(image, forward_with(net), SCALE, tile, 16, output_dtype=np.float32, run_tiles=run))
    np.testing.assert_allclose(tiled, whole_image(net, image), atol=1e-6)
    pixels = (image * 255).astype(np.uint8)
    _, whole = drain(iter_tiled(pixels, forward_with(net), SCALE, 128, 16))
    _, tiled = drain(iter_tiled(pixels, forward_with(net), SCALE, tile, 16, run_tiles=run))
    levels = np.abs(tiled.astype(np.int16) - whole.astype(np.int16))
    assert levels.max() <= 1 and np.count_nonzero(levels) <= 4, f"{np.count_nonzero(levels)} pixels differ"
    if workers:
        workers.close()


def test_tiles_are_fitted_to_the_image() -> None:
    """1024 px in tiles of at most 512 (overlap 16): three tiles, of 352, not three of 512."""
    assert fitted_tile(1024, 512, 16) == 352 and len(tile_starts(1024, 352, 16)) == 3
    assert fitted_tile(300, 512, 16) == 300
    for length, tile in [(1000, 192), (77, 32), (4000, 512)]:
        fitted = fitted_tile(length, tile, 16)
        assert fitted <= tile and len(tile_starts(length, fitted, 16)) == len(tile_starts(length, tile, 16))


def test_small_images_are_cut_so_that_every_worker_has_a_tile() -> None:
    assert tile_for_workers(100, 60, 512, 16, 1) == 512
    tile = tile_for_workers(100, 60, 512, 16, 2)
    assert len(tile_starts(100, tile, 16)) == 2 and len(tile_starts(60, min(tile, 60), 16)) == 1
    assert tile_for_workers(2000, 2000, 512, 16, 2) == 512


def test_rows_handed_to_a_sink_are_the_whole_result(net: CompactGenerator) -> None:
    image = (np.random.default_rng(6).random((70, 53, 3)) * 255).astype(np.uint8)
    _, whole = drain(iter_tiled(image, forward_with(net), SCALE, 32, 16))
    bands: list[np.ndarray] = []
    _, returned = drain(iter_tiled(image, forward_with(net), SCALE, 32, 16, sink=bands.append))
    assert returned is None and len(bands) > 1
    np.testing.assert_array_equal(np.concatenate(bands), whole)


def test_out_of_memory_after_rows_were_handed_on_is_an_error_not_a_restart(net: CompactGenerator) -> None:
    calls = 0

    def fails_late(x: np.ndarray) -> np.ndarray:
        nonlocal calls
        calls += 1
        if calls > 5:
            raise torch.OutOfMemoryError("CUDA out of memory")
        return forward_with(net)(x)

    bands: list[np.ndarray] = []
    with pytest.raises(MemoryError, match="rows were written; try a smaller tile"):
        drain(iter_tiled_halving(np.zeros((90, 40, 3), np.uint8), fails_late, SCALE, 32, 8, sink=bands.append))
    assert bands  # the first row of tiles had gone out before the failure


@pytest.mark.parametrize("channels", [1, 3, 4])
def test_channels_last_reorders_and_casts_as_a_transposed_copy_would(channels: int) -> None:
    planes = np.random.default_rng(channels).random((channels, 5, 7), dtype=np.float32) * 255
    for dtype in (None, np.uint8, np.uint16):
        result = channels_last(planes, dtype)
        expected = planes.transpose(1, 2, 0).astype(dtype or np.float32)
        assert result.flags.c_contiguous and result.dtype == expected.dtype and np.array_equal(result, expected)
