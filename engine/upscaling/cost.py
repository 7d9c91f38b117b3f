"""What a model costs on this machine, in seconds per output megapixel, measured rather than guessed.

Parameter counts mislead (a 16.7M-parameter RRDB net costs ~50x a 0.6M Compact one per pixel, not 28x),
and the same model runs at very different speeds on a laptop CPU, a 2-core server and a GPU, so a picker
that says "about N s per output megapixel here" has to time the model in the engine and on the device it
will run on (the `auto` rule's by default; on a CPU both engines, recording the faster for `auto`:
engine.upscaling.cpu_engine). One input through the real upscaler, after a warm-up, grown until a run takes
a noticeable time, is enough: past a few hundred pixels the upscaler's cost per pixel is flat in the image
size (engine.upscaling.tiling.auto_tile_size), while smaller tiles stay in the CPU's caches and run up to
2x faster per pixel (a narrow Compact net in ncnn). The upscaler hands back CPU arrays, so a GPU run is
finished when the call returns. Megapixels are the result's: an x4 model's output has 16x its input's pixels.
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np

from engine.upscaling.backend import OptionsError
from engine.upscaling.backends import auto_runs_on_cpu, describe_auto, open_backend
from engine.upscaling.cpu_engine import CPU_ENGINES, CpuRun, record_timings
from engine.upscaling.ncnn_backend import cpu_threads
from engine.upscaling.upscaler import Upscaler

WARM_UP_SIDE = 16
PROBE_SECONDS = 0.6  # the timed run's length, at most: long enough that per-call overheads do not count
TIMED_ROUNDS = 2
WINOGRAD_SIDE, WINOGRAD_ROUNDS = 160, 5  # an image small enough to run whole (engine.upscaling.backend)
SIDES = (32, 640)  # LR sides the timed run stays within (640 px: two of a narrow model's CPU tiles)


def seconds_per_megapixel(source: str | Path, device: str = "auto", backend: str = "auto") -> float:
    """What the model costs in `backend` on `device`. For `auto` on a CPU, both engines are timed and the
    faster recorded (engine.upscaling.cpu_engine), so that `auto` runs it from now on; its cost is returned."""
    if (backend, device) == ("auto", "auto") and auto_runs_on_cpu():
        seconds, chosen = time_cpu_engines(source)
        return seconds[chosen.engine]
    return _timed(source, backend, device)


def time_cpu_engines(source: str | Path) -> tuple[dict[str, float], CpuRun]:
    """Seconds per output megapixel for `source` on the CPU in each engine, in tiles as photos run, the
    best of TIMED_ROUNDS taken in turn (one run moves 10-20% here), ncnn with its faster Winograd way
    (faster_winograd63); returns them with what is recorded for `auto` (engine.upscaling.cpu_engine). An
    engine that cannot run the model (ncnn refuses an operation, or is not installed) is left out."""
    winograd63 = faster_winograd63(source)
    engines = list(CPU_ENGINES)
    seconds: dict[str, float] = {}
    for round_ in range(TIMED_ROUNDS):
        for engine in engines[:: -1 if round_ % 2 else 1]:
            try:
                timed = _timed(source, engine, "cpu", tiled=True, winograd63=winograd63 is not False)
            except OptionsError:
                engines.remove(engine)
                continue
            seconds[engine] = min(seconds.get(engine, timed), timed)
    seconds = {engine: seconds[engine] for engine in CPU_ENGINES if engine in seconds}
    return seconds, record_timings(source, seconds, winograd63)


def faster_winograd63(source: str | Path) -> bool | None:
    """Whether ncnn runs `source` faster here with Winograd F(6,3) allowed (its own choice for narrow
    convolutions) than with F(4,3) in its place; None where that changes nothing (a tile comes out
    bit-identical either way: the same kernels ran, as for every 64-channel model) or ncnn cannot run it.

    Timed on an image that runs whole on every core, the best of WINOGRAD_ROUNDS taken in turn: there the
    two ways differ most (default-x4 on the EPYC: 10-20%), in tiles by 5-10%, within what one timing
    moves; a 32-channel model's whole run takes tens of milliseconds."""
    try:
        runs = {choice: open_backend(source, "ncnn", "cpu", winograd63=choice).backend for choice in (True, False)}
    except OptionsError:
        return None
    try:
        shape = (runs[True].model.in_channels, WINOGRAD_SIDE, WINOGRAD_SIDE)
        image = np.random.default_rng(0).random(shape, dtype=np.float32)
        if np.array_equal(runs[True].forward(image[:, :24, :24]), runs[False].forward(image[:, :24, :24])):
            return None
        best = {choice: math.inf for choice in runs}
        for round_ in range(WINOGRAD_ROUNDS):
            for choice in (True, False)[:: -1 if round_ % 2 else 1]:
                start = time.perf_counter()
                runs[choice].forward_all_cores(image)
                best[choice] = min(best[choice], time.perf_counter() - start)
        return best[True] <= best[False]
    finally:
        for run in runs.values():
            run.close()


def _timed(source: str | Path, backend: str, device: str, tiled: bool = False, winograd63: bool | None = None) -> float:
    """Time the model's upscaler in `backend` on `device` on an input grown until one run takes at least
    half of PROBE_SECONDS, so that a fast model is not timed on its overheads (nor on tiles smaller than a
    photo's) and a slow one not for a minute. `tiled`: in tiles on the cores, as photos run, even where an
    input this small would run whole. `winograd63`: ncnn's choice on the CPU (None: as timed faster here)."""
    upscaler = Upscaler(open_backend(source, backend, device, winograd63=winograd63).backend, overlap=0)
    if tiled:
        upscaler.backend.whole_image_pixels = 0
    model = upscaler.model
    try:
        noise = np.random.default_rng(0).integers(0, 256, (SIDES[1], SIDES[1], model.in_channels), dtype=np.uint8)
        upscaler.upscale(noise[:WARM_UP_SIDE, :WARM_UP_SIDE])  # threads started, weights packed
        side = SIDES[0]
        while True:
            start = time.perf_counter()
            upscaler.upscale(noise[:side, :side])
            elapsed = time.perf_counter() - start
            if elapsed >= PROBE_SECONDS / 2 or side == SIDES[1]:
                break
            side = min(SIDES[1], int(side * min(2.0, (PROBE_SECONDS / max(elapsed, 1e-6)) ** 0.5)))
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
