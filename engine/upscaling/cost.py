"""What a model costs on this machine, in seconds per output megapixel, measured rather than guessed.

Parameter counts mislead (a 16.7M-parameter RRDB net costs ~50x a 0.6M Compact one per pixel, not 28x),
and the same model runs at very different speeds on a laptop CPU, a 2-core server and a GPU, so a picker
that says "about N s per output megapixel here" has to time the model in the engine and on the device it
will run on (the `auto` rule's by default; on a CPU both engines, recording the faster for `auto`:
engine.upscaling.cpu_engine). One small input through the real upscaler, after
a warm-up, is enough: the upscaler's cost per pixel is flat in the image size
(engine.upscaling.tiling.auto_tile_size). The upscaler hands back CPU arrays, so a GPU run is finished when
the call returns. Megapixels are the result's: an x4 model's output has 16x its input's pixels.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from engine.upscaling.backend import OptionsError
from engine.upscaling.backends import auto_runs_on_cpu, describe_auto, open_backend
from engine.upscaling.cpu_engine import CPU_ENGINES, record_timings
from engine.upscaling.ncnn_backend import cpu_threads
from engine.upscaling.upscaler import Upscaler

WARM_UP_SIDE = 16
PROBE_SECONDS = 1.0  # the timed run's length, roughly: long enough that per-call overheads do not count
SIDES = (32, 160)  # LR sides the timed run stays within (160 px at x4 is 0.4 MP out)


def seconds_per_megapixel(source: str | Path, device: str = "auto", backend: str = "auto") -> float:
    """What the model costs in `backend` on `device`. For `auto` on a CPU, both engines are timed and the
    faster recorded (engine.upscaling.cpu_engine), so that `auto` runs it from now on; its cost is returned."""
    if (backend, device) == ("auto", "auto") and auto_runs_on_cpu():
        seconds = time_cpu_engines(source)
        return min(seconds.values())
    return _timed(source, backend, device)


def time_cpu_engines(source: str | Path) -> dict[str, float]:
    """Each engine's seconds per output megapixel for `source` on the CPU, in tiles as photos run; the
    faster is recorded for `auto` (engine.upscaling.cpu_engine). An engine that cannot run the model (ncnn
    refuses an operation, or is not installed) is left out."""
    seconds = {}
    for engine in CPU_ENGINES:
        try:
            seconds[engine] = _timed(source, engine, "cpu", tiled=True)
        except OptionsError:
            continue
    record_timings(source, seconds)
    return seconds


def _timed(source: str | Path, backend: str, device: str, tiled: bool = False) -> float:
    """Time one input through the model's upscaler in `backend` on `device`, sized from a warm-up run to take
    about PROBE_SECONDS, so that a fast model is not timed on its overheads nor a slow one for a minute.
    `tiled`: in tiles on the cores, as photos run, even where an input this small would run whole."""
    upscaler = Upscaler(open_backend(source, backend, device).backend, overlap=0)
    if tiled:
        upscaler.backend.whole_image_pixels = 0
    model = upscaler.model
    try:
        noise = np.random.default_rng(0).integers(0, 256, (SIDES[1], SIDES[1], model.in_channels), dtype=np.uint8)
        start = time.perf_counter()
        upscaler.upscale(noise[:WARM_UP_SIDE, :WARM_UP_SIDE])
        warm_up = max(time.perf_counter() - start, 1e-6)
        side = int(min(max(WARM_UP_SIDE * (PROBE_SECONDS / warm_up) ** 0.5, SIDES[0]), SIDES[1]))
        start = time.perf_counter()
        upscaler.upscale(noise[:side, :side])
        elapsed = time.perf_counter() - start
    finally:
        upscaler.close()
    return elapsed / ((side * model.scale) ** 2 / 1e6)


def cost_key(source: str | Path, device: str = "auto", backend: str = "auto") -> str:
    """What a measured cost depends on: the file (path, size, time), the engine and device (for `auto`,
    where the rule runs it here) and the CPU threads."""
    path = Path(source).resolve()
    stat = path.stat()
    where = describe_auto() if (backend, device) == ("auto", "auto") else f"{backend} on {device}"
    return f"{path}|{stat.st_size}|{stat.st_mtime_ns}|{where}|{cpu_threads()}"


def describe_cost(seconds: float) -> str:
    """'about 52 s per output megapixel here', with the precision a person reads."""
    unit = "s per output megapixel here"
    if seconds < 0.1:
        return f"under 0.1 {unit}"
    return f"about {seconds:.1f} {unit}" if seconds < 10 else f"about {seconds:.0f} {unit}"
