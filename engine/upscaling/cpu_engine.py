"""Which engine `auto` runs a model in on a CPU: the faster of PyTorch and ncnn, as timed on this machine.

Which one is faster depends on the CPU and on the model. Measured quiet against the PyTorch path, ncnn's
speed-up (x4, input side): on a 2-core AMD EPYC, x4plus 1.67x (160 px) and 1.26x (320 px), photo-x4 1.68x
(768 px), default-x4 0.99x (1024 px); on a 2-core AVX-512 Xeon 1.07x, 0.93x, 0.86x and 0.63x. So when the
window's model picker measures what a model costs here (engine.upscaling.cost), it times both engines and
records the faster one under the model file's contents and this CPU; `auto` on a CPU then runs the
recorded engine, and DEFAULT until a model has a record (ncnn: faster on most CPUs measured, and it starts
without torch). The records are one small JSON file in the user's cache folder, which the command line
reads too.
"""

from __future__ import annotations

import hashlib
import json
import platform
from pathlib import Path

from engine.io.atomic import atomic_write
from engine.models.sources import content_hash, resolve_model_source
from engine.upscaling.ncnn_backend import cpu_threads
from engine.user_cache import user_cache_dir

DEFAULT = "ncnn"
CPU_ENGINES = ("torch", "ncnn")
RECORDS = "cpu-engines.json"
KEPT = 64  # records kept, the newest: one per model file measured here


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


def recorded_engine(source: str | Path) -> str | None:
    """The engine timed faster for `source` on this CPU, or None when it has not been timed here."""
    try:
        record = _read().get(_key(source))
    except OSError:  # the model file cannot be read: the caller's load says why
        return None
    engine = record.get("faster") if isinstance(record, dict) else None
    return engine if engine in CPU_ENGINES else None


def cpu_engine(source: str | Path) -> str:
    """What `auto` runs `source` in on this CPU."""
    return recorded_engine(source) or DEFAULT


def record_timings(source: str | Path, seconds: dict[str, float]) -> str:
    """Keep both engines' seconds per output megapixel for `source` here; returns the faster engine. A
    cache folder that cannot be written keeps nothing (auto then stays with DEFAULT)."""
    faster = min(seconds, key=seconds.__getitem__)
    records = _read()
    key = _key(source)
    records.pop(key, None)
    records[key] = {"faster": faster, "seconds_per_output_mp": seconds, "cpu": cpu_name(),
                    "model": Path(resolve_model_source(source)).name}
    kept = dict(list(records.items())[-KEPT:])
    try:
        _records_path().parent.mkdir(parents=True, exist_ok=True)
        atomic_write(_records_path(), lambda tmp: tmp.write_text(json.dumps(kept, indent=1), encoding="utf-8"))
    except OSError:
        pass
    return faster
