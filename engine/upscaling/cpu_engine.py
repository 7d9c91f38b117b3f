"""Which engine `auto` runs a model in on a CPU: the faster of PyTorch and ncnn, as timed on this machine.

Which one is faster depends on the CPU and on the model. Measured quiet against the PyTorch path, ncnn's
speed-up (x4, input side): on a 2-core AMD EPYC, x4plus 1.67x (160 px) and 1.26x (320 px), photo-x4 1.68x
(768 px), default-x4 0.99x (1024 px); on a 2-core AVX-512 Xeon 1.07x, 0.93x, 0.86x and 0.63x. So when the
window's model picker measures what a model costs here (engine.upscaling.cost), it times both engines and
records the faster one under the model file's contents and this CPU; `auto` on a CPU then runs the
recorded engine, and DEFAULT until a model has a record (ncnn: faster on most CPUs measured, and it starts
without torch). PyTorch is recorded only when it is faster by more than TORCH_MARGIN: where the two are
close on a photo's tiles (the 32-channel Compact models on the EPYC, 0-20% apart, and a timing moves
10-20% here), ncnn starts without torch and runs small images whole up to 1.4x faster. The records are
one small JSON file in the user's cache folder, which the command line reads too.

ncnn itself has a choice that depends on the CPU: for narrow 3x3 convolutions (32 channels) it picks
Winograd F(6,3), which on the 2-core EPYC runs default-x4 10-20% slower than F(4,3) whole and 5-10% slower
in tiles (at 64 channels it already picks F(4,3)). So ncnn is timed both ways where that changes its
kernels (engine.upscaling.cost.faster_winograd63), and the faster way is recorded beside the faster engine.
"""

from __future__ import annotations

import hashlib
import json
import platform
from dataclasses import dataclass
from pathlib import Path

from engine.io.atomic import atomic_write
from engine.models.sources import content_hash, resolve_model_source
from engine.upscaling.ncnn_backend import cpu_threads
from engine.user_cache import user_cache_dir

DEFAULT = "ncnn"
TORCH_MARGIN = 1.1  # PyTorch's timing must beat ncnn's best by this factor to be recorded
CPU_ENGINES = ("torch", "ncnn")
RECORDS = "cpu-engines.json"
KEPT = 64  # records kept, the newest: one per model file measured here


@dataclass(frozen=True)
class CpuRun:
    """How a model runs on this CPU: its engine and, for ncnn, whether its 3x3 convolutions may use
    Winograd F(6,3) where ncnn prefers it (False: F(4,3) there)."""

    engine: str = DEFAULT
    winograd63: bool = True

    @property
    def label(self) -> str:
        return self.engine if self.engine == "torch" or self.winograd63 else f"{self.engine}, Winograd F(4,3)"


def cpu_name() -> str:
    """The processor's model name ('AMD EPYC 9654'), or what the platform says of it."""
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _records_path() -> Path:
    return user_cache_dir() / RECORDS


def _key(source: str | Path) -> str:
    """The model file's contents, this CPU and the threads the engines get: what a timing depends on."""
    digest = content_hash(resolve_model_source(source))
    return hashlib.sha256(f"{digest}|{cpu_name()}|{cpu_threads()}".encode()).hexdigest()[:40]


def _read() -> dict[str, dict[str, object]]:
    try:
        records = json.loads(_records_path().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return records if isinstance(records, dict) else {}


def recorded_run(source: str | Path) -> CpuRun | None:
    """How `source` ran fastest when timed on this CPU (its engine, and ncnn's faster Winograd choice), or
    None when it has not been timed here."""
    try:
        record = _read().get(_key(source))
    except OSError:  # the model file cannot be read: the caller's load says why
        return None
    if not isinstance(record, dict) or record.get("faster") not in CPU_ENGINES:
        return None
    return CpuRun(str(record["faster"]), record.get("ncnn_winograd63") is not False)


def cpu_run(source: str | Path) -> CpuRun:
    """How `auto` runs `source` on this CPU (and how ncnn does, when asked for by name): as timed fastest
    here, or DEFAULT with ncnn's own Winograd choice until it has been timed."""
    return recorded_run(source) or CpuRun()


def record_timings(source: str | Path, seconds: dict[str, float], winograd63: bool | None = None) -> CpuRun:
    """Keep each engine's seconds per output megapixel for `source` here, and ncnn's faster Winograd way
    (None: either runs the same); returns what `auto` runs from now on: the faster engine, PyTorch only by
    TORCH_MARGIN. A cache folder that cannot be written keeps nothing (auto then stays with DEFAULT)."""
    faster = min(seconds, key=lambda engine: seconds[engine] * (TORCH_MARGIN if engine == "torch" else 1.0))
    records = _read()
    key = _key(source)
    records.pop(key, None)
    records[key] = {"faster": faster, "seconds_per_output_mp": seconds, "cpu": cpu_name(),
                    "model": Path(resolve_model_source(source)).name}
    if winograd63 is not None:
        records[key]["ncnn_winograd63"] = winograd63
    kept = dict(list(records.items())[-KEPT:])
    try:
        _records_path().parent.mkdir(parents=True, exist_ok=True)
        atomic_write(_records_path(), lambda tmp: tmp.write_text(json.dumps(kept, indent=1), encoding="utf-8"))
    except OSError:
        pass
    return CpuRun(faster, winograd63 is not False)
