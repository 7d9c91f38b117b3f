"""Which engine upscales: `open_backend(model, backend, device)` applies the one rule the command line
and the window share.

`auto`: a CUDA or Apple MPS GPU -> PyTorch on it; otherwise a model ncnn can run -> ncnn on a real Vulkan
GPU if there is one, else the CPU in the engine timed faster for the model on this machine, ncnn (every
core, Winograd convolutions) until it has been timed (engine.upscaling.cpu_engine); a model ncnn cannot
run (attention, other operations) -> PyTorch, with a note that says so. `torch` and `ncnn` force one
engine; a device names where (`cpu`, `cuda`, `mps` for PyTorch, `vulkan[:N]` for ncnn).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from engine.device import VULKAN, parse_upscale_device, torch_gpu_available
from engine.upscaling.backend import BACKEND_CHOICES, OptionsError, TileBackend
from engine.upscaling.cpu_engine import CpuRun, cpu_run

if TYPE_CHECKING:
    from engine.models.registry import LoadedModel

@dataclass
class OpenedBackend:
    """The engine a model runs in, and a note for the person when `auto` could not use ncnn for it."""

    backend: TileBackend
    note: str = ""


def check_choice(backend: str, device: str) -> tuple[str, int | None]:
    """Refuse a backend/device pair that cannot be (OptionsError naming it); return the parsed device."""
    if backend not in BACKEND_CHOICES:
        raise OptionsError(f"backend must be one of {', '.join(BACKEND_CHOICES)}, not {backend!r}")
    try:
        kind, index = parse_upscale_device(device)
    except ValueError as exc:
        raise OptionsError(str(exc)) from None
    if backend == "torch" and kind == VULKAN:
        raise OptionsError("Vulkan devices are ncnn's: use --backend ncnn or auto with --device vulkan")
    if backend == "ncnn" and kind in ("cuda", "mps"):
        raise OptionsError(f"ncnn runs on the CPU or a Vulkan device, not {kind}: use --backend torch or auto")
    return kind, index


def _vulkan_index(kind: str, index: int | None) -> int | None:
    """Where ncnn runs: the Vulkan device asked for, else (auto) the first real GPU, else the CPU (None)."""
    from engine.upscaling.ncnn_backend import vulkan_devices

    if kind == VULKAN:
        return index
    if kind == "auto":
        return next((device.index for device in vulkan_devices() if device.is_real_gpu), None)
    return None


def auto_runs_on_cpu() -> bool:
    """Does `auto` run on the CPU here: no CUDA or MPS GPU for PyTorch, no real Vulkan GPU for ncnn?"""
    return not torch_gpu_available() and _vulkan_index("auto", None) is None


def describe_auto() -> str:
    """Where `auto` runs a model ncnn can run, in words: 'CPU' (in PyTorch or ncnn, whichever is faster
    there for the model: engine.upscaling.cpu_engine), 'ncnn on Vulkan: Radeon 780M', or the PyTorch GPU's
    name."""
    if torch_gpu_available():
        from engine.device import describe_device, resolve_device

        return describe_device(resolve_device("auto"))
    from engine.upscaling.ncnn_backend import vulkan_devices

    gpu = next((device for device in vulkan_devices() if device.is_real_gpu), None)
    return f"ncnn on Vulkan: {gpu.name}" if gpu else "CPU"


def _torch(source: str | Path, which: str, device: str, precision: str, loaded: LoadedModel | None,
           strength: float | None) -> TileBackend:
    from engine.models.strength import load_at_strength
    from engine.upscaling.torch_backend import TorchBackend

    return TorchBackend(loaded or load_at_strength(source, which, strength), device, precision)


def open_backend(source: str | Path, backend: str = "auto", device: str = "auto", precision: str = "auto",
                 which: str = "ema", loaded: LoadedModel | None = None,
                 strength: float | None = None, winograd63: bool | None = None) -> OpenedBackend:
    """The model file `source` (or `loaded`, already in memory), mixed with its partner at `strength` when
    one is given (engine.models.strength), in the engine the rule picks. On the CPU, ncnn uses Winograd
    F(6,3) as timed faster here for the model (engine.upscaling.cpu_engine), or as `winograd63` says.

    Raises OptionsError for a pair that cannot be, ModelLoadError for a file that is no model (or a
    strength for a model without a partner), ValueError for a device this machine lacks."""
    kind, index = check_choice(backend, device)
    mix = strength if strength is not None and strength < 1 else None  # at 1, the model as it is
    torch_args = (source, which, device, precision, loaded, mix)
    if backend == "torch" or kind in ("cuda", "mps") or (backend == "auto" and kind == "auto"
                                                         and torch_gpu_available()):
        return OpenedBackend(_torch(*torch_args))
    vulkan = _vulkan_index(kind, index)
    # The CPU record (which hashes the model file) is read only where it decides something: the engine for
    # auto, or ncnn's Winograd way when the caller does not give it (engine.upscaling.cost's probes do).
    needed = loaded is None and vulkan is None and (backend == "auto" or winograd63 is None)
    timed = cpu_run(source) if needed else CpuRun()
    if backend == "auto" and timed.engine == "torch":
        return OpenedBackend(_torch(*torch_args))
    from engine.models.ncnn_cache import ncnn_model
    from engine.upscaling.ncnn_backend import NcnnBackend, NcnnUnavailable

    try:
        converted = ncnn_model(source, which, loaded, mix)
        if converted.info is not None:
            winograd63 = timed.winograd63 if winograd63 is None else winograd63
            return OpenedBackend(NcnnBackend(converted, vulkan, precision, winograd63))
        reason = f"ncnn cannot run this model: {converted.refusal}"
    except NcnnUnavailable as exc:
        reason = str(exc)
    except OSError as exc:  # the cache folder cannot be written (read-only home, full disk)
        reason = f"cannot keep the ncnn conversion in {exc.filename or 'the cache folder'} ({exc.strerror or exc})"
    if backend == "ncnn" or kind == VULKAN:
        raise OptionsError(reason)
    return OpenedBackend(_torch(*torch_args), f"{reason}; running in PyTorch")
