"""Helpers and the longer sections of bench/upscale_speed.py: batch, GPU, what was tried on the CPU, memory."""

from __future__ import annotations

import copy
import math
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from torch import nn

from engine.archs.networks import CompactGenerator
from engine.upscaling.heap import FreedMemoryKept
from engine.io.images import read_pixels, save_image
from engine.torch_threads import one_intra_op_thread
from engine.upscaling.torch_backend import network_for
from engine.upscaling.upscaler import OptionsError, Upscaler
from engine.models.registry import BUNDLED_DIR, DEFAULT_MODEL, LoadedModel, load_model
from engine.resources import resource_path
from engine.upscaling.tile_threads import TileThreads
from engine.upscaling.batch import BatchUpscaler, UpscaleOptions

SCALE = 4
BATCH = (24, 256)  # images, side
OPTION_TILES = (16, 268)  # tiles, side: the automatic tile (320 px) fitted to a 1024-px input, 4x4 tiles


def as_loaded(module: nn.Module, name: str, in_channels: int = 3,
              value_range: tuple[float, float] = (0.0, 1.0)) -> LoadedModel:
    """Wrap a randomly initialised network the way the registry would."""
    return LoadedModel(module=module.eval(), scale=SCALE, in_channels=in_channels, value_range=value_range,
                       name=name, kind="srgan-studio", supports_half=True, supports_bf16=True)


def default_model() -> LoadedModel:
    if (BUNDLED_DIR / f"{DEFAULT_MODEL}.safetensors").is_file():
        return load_model("default")
    return as_loaded(CompactGenerator(3, 32, 12, SCALE), "compact 32x12, random weights")


class Nearest(nn.Module):
    """x4 by repeating pixels: no network at all, so timing it times everything around the network."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return nn.functional.interpolate(x, scale_factor=SCALE, mode="nearest")


def no_network_model() -> LoadedModel:
    return as_loaded(Nearest(), "nearest neighbour")


def photo(side: int) -> np.ndarray:
    """side x side RGB uint8: the bundled sample crops side by side, repeated as needed."""
    crops = [read_pixels(path, 3) for path in sorted(resource_path("samples").glob("*.jpg"))]
    crop = min(c.shape[0] for c in crops)
    per_row = -(-side // crop)
    rows = [np.concatenate([crops[(r * per_row + c) % len(crops)][:crop, :crop] for c in range(per_row)], axis=1)
            for r in range(per_row)]
    return np.ascontiguousarray(np.concatenate(rows, axis=0)[:side, :side])


def timings(repeats: int, runs: dict[str, Callable[[], object]]) -> dict[str, tuple[float, float]]:
    """(best wall time, best CPU time of the whole process) of each run over `repeats` rounds, the runs
    taken in turn within a round, in reverse order every other round.

    Other processes share this CPU: a run's wall time depends on what they do meanwhile, its CPU time
    much less (our threads block rather than spin while they wait), so CPU time compares runs fairly."""
    times: dict[str, list[tuple[float, float]]] = {name: [] for name in runs}
    for round_ in range(repeats):
        for name in list(runs)[:: -1 if round_ % 2 else 1]:
            wall, cpu = time.perf_counter(), time.process_time()
            runs[name]()
            times[name].append((time.perf_counter() - wall, time.process_time() - cpu))
    return {name: (min(t[0] for t in values), min(t[1] for t in values)) for name, values in times.items()}


def best_of(repeats: int, runs: dict[str, Callable[[], object]]) -> dict[str, float]:
    """Best wall time of each run (see `timings`)."""
    return {name: wall for name, (wall, _) in timings(repeats, runs).items()}


# ----------------------------------------------------------------------------- batch
def batch_rows(model: LoadedModel) -> None:
    """Many small PNGs through one BatchUpscaler (the model loaded once): images/s and core use."""
    count, side = BATCH
    cores = os.cpu_count() or 1
    with tempfile.TemporaryDirectory() as folder:
        mosaic = photo(side * math.ceil(math.sqrt(count)))
        per_row = mosaic.shape[1] // side
        for index in range(count):
            top, left = index // per_row * side, index % per_row * side
            save_image(mosaic[top:top + side, left:left + side], Path(folder) / "in" / f"{index:02d}.png")
        options = UpscaleOptions(out_dir=str(Path(folder) / "out"), overwrite=True)
        list(BatchUpscaler([Path(folder) / "in" / "00.png"], options, model).run())  # warm-up
        cpu, wall = time.process_time(), time.perf_counter()
        done = list(BatchUpscaler([Path(folder) / "in"], options, model).run())[-1]
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    print(f"\nbatch: {len(done.succeeded)} images {side}x{side} x4 -> PNG files, one model load: "
          f"{count / wall:.2f} images/s ({wall:.1f} s); cores busy {cpu / wall / cores:.0%} "
          f"(process CPU time / wall time / {cores} cores)")


# ----------------------------------------------------------------------------- GPU
def psnr(result: np.ndarray, reference: np.ndarray) -> float:
    top = float(np.iinfo(reference.dtype).max)
    mse = float(np.mean((result.astype(np.float64) - reference.astype(np.float64)) ** 2))
    return math.inf if mse == 0 else 10 * math.log10(top * top / mse)


def gpu_rows(model: LoadedModel, image: np.ndarray) -> None:
    """fp32/fp16/bf16 x NCHW/channels_last on CUDA; outputs in 16 bits, so PSNR sees past 8-bit rounding."""
    if not torch.cuda.is_available():
        print("\nGPU: skipped, no CUDA device here (on one, this times fp32/fp16/bf16 with NCHW and "
              "channels_last and checks PSNR > 50 dB against fp32)")
        return
    pixels = image.astype(np.float32) / 255.0
    print(f"\nGPU ({torch.cuda.get_device_name()}), {model.name}, {image.shape[1]}x{image.shape[0]} x4, best of 3:")
    reference = None
    for precision in ("fp32", "fp16", "bf16"):
        for layout in (torch.contiguous_format, torch.channels_last):
            own = copy.deepcopy(model)
            try:
                upscaler = Upscaler(own, "cuda", precision=precision)
            except OptionsError as exc:
                print(f"  {precision}: {exc}")
                break
            upscaler.backend.memory_format = layout
            own.module.to(memory_format=layout)

            def run(u: Upscaler = upscaler) -> np.ndarray:
                result = u.upscale(pixels)
                torch.cuda.synchronize()
                return result

            result = run()
            reference = result if reference is None else reference
            seconds = best_of(3, {"run": run})["run"]
            name = "channels_last" if layout == torch.channels_last else "NCHW"
            print(f"  {precision:<5} {name:<14} {seconds:6.3f} s, {pixels.size / 3 * 16 / 1e6 / seconds:7.1f} output "
                  f"MP/s, PSNR vs fp32 {psnr(result, reference):6.1f} dB (target > 50)")


# ----------------------------------------------------------------------------- CPU options
def cpu_option_rows(model: LoadedModel, repeats: int) -> None:
    """The network alone on the tiles of a 1 MP input, each way of running it that was tried on the CPU."""
    count, side = OPTION_TILES
    cores = torch.get_num_threads()
    nchw = copy.deepcopy(model.module).to(memory_format=torch.contiguous_format)
    last = copy.deepcopy(model.module).to(memory_format=torch.channels_last)
    tiles = [torch.rand(1, 3, side, side) for _ in range(count)]
    tiles_last = [t.contiguous(memory_format=torch.channels_last) for t in tiles]
    threads = TileThreads(cores, one_intra_op_thread)

    def inline(net: nn.Module, inputs: list[torch.Tensor], workers: int = cores) -> Callable[[], object]:
        def run() -> None:
            torch.set_num_threads(workers)
            with torch.inference_mode():
                for x in inputs:
                    net(x)
            torch.set_num_threads(cores)
        return run

    def threaded(net: Callable[[torch.Tensor], torch.Tensor], inputs: list[torch.Tensor]) -> Callable[[], object]:
        def forward(x: torch.Tensor) -> torch.Tensor:
            with torch.inference_mode():
                return net(x)
        return lambda: list(threads.map(forward, inputs))

    blocked, _ = network_for(torch.device("cpu"), torch.float32, model)
    runs = {f"NCHW, {cores} intra-op threads (before)": inline(nchw, tiles),
            f"channels_last, {cores} intra-op threads": inline(last, tiles_last),
            "channels_last, 1 thread": inline(last, tiles_last, 1),
            f"channels_last, {cores} tile threads": threaded(last, tiles_last),
            f"oneDNN blocked layout, {cores} tile threads (kept)": threaded(blocked, tiles)}
    with FreedMemoryKept():
        for run in runs.values():
            run()
        seconds = timings(repeats, runs)
    seconds["oneDNN blocked layout, tile threads, glibc's own heap thresholds"] = timings(repeats, {
        "x": threaded(blocked, tiles)})["x"]
    compiled = torch.compile(last)
    started = time.perf_counter()
    threaded(compiled, tiles_last[:1])()
    compile_seconds = time.perf_counter() - started
    with FreedMemoryKept():
        seconds[f"torch.compile (channels_last), tile threads; compiling: {compile_seconds:.0f} s"] = timings(
            repeats, {"x": threaded(compiled, tiles_last)})["x"]
    threads.close()
    flops = 250_624 * count * side * side  # default-x4's FLOPs per LR pixel (FlopCounterMode) x pixels
    print(f"\nCPU options: the network alone on {count} tiles of {side}x{side} (best of {repeats}; wall time, "
          "GFLOP/s by wall time, process CPU time):")
    for name, (wall, cpu) in seconds.items():
        print(f"  {name:<68} {wall:6.2f} s {flops / wall / 1e9:5.0f} GFLOP/s   CPU {cpu:6.2f} s")


# ----------------------------------------------------------------------------- memory
def peak_rss_bytes() -> int:
    """This process's peak resident memory. VmHWM, because ru_maxrss survives exec on Linux and would
    report the parent's peak; ru_maxrss where there is no /proc."""
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def memory_child(side: int, model: LoadedModel) -> None:
    """Runs in a fresh process: a side x side PNG through BatchUpscaler to a PNG; prints the RSS before
    the run, its peak, and the seconds it took."""
    with tempfile.TemporaryDirectory() as folder:
        source = save_image(photo(side), Path(folder) / "in.png")
        options = UpscaleOptions(out_dir=str(Path(folder) / "out"), overwrite=True)
        save_image(photo(64), Path(folder) / "small.png")
        list(BatchUpscaler([Path(folder) / "small.png"], options, model).run())  # threads started, model warm
        clear_refs = Path("/proc/self/clear_refs")
        if clear_refs.exists():
            clear_refs.write_text("5")  # reset the peak to now: making the input is not part of the run
        baseline = peak_rss_bytes()
        started = time.perf_counter()
        done = list(BatchUpscaler([source], options, model).run())[-1]
        assert done.succeeded, done.failed
        print(baseline, peak_rss_bytes(), f"{time.perf_counter() - started:.1f}")


def memory_row(side: int, script: Path) -> str:
    result = subprocess.run([sys.executable, str(script), "--memory-child", str(side)], capture_output=True,
                            text=True, check=True)
    baseline, peak, seconds = result.stdout.split()
    gib = 1024**3
    output = (side * SCALE) ** 2 * 3
    return (f"{side}x{side} -> {side * SCALE}x{side * SCALE}: peak RSS {int(peak) / gib:.2f} GiB = output's bytes "
            f"{output / gib:.2f} GiB + {(int(peak) - output) / gib:.2f} GiB (bound: + 1 GiB); before the run "
            f"{int(baseline) / gib:.2f} GiB (Python, torch, the model); {seconds} s")
