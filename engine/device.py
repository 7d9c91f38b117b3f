"""One place that decides where tensors live: CUDA, then Apple MPS, then the CPU; and the names of the
devices a person can pick for upscaling, which add ncnn's Vulkan GPUs (`vulkan`, `vulkan:N`).

torch is imported only when a PyTorch device is asked about, so the ncnn path and `--help` start quickly.
"""

from __future__ import annotations

import ctypes.util
import platform
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

DEVICE_CHOICES = ("auto", "cpu", "cuda", "mps")  # PyTorch's (training, and upscaling in PyTorch)
PRECISIONS = ("fp32", "bf16", "fp16")  # training's and upscaling's choices; half precision is for GPUs
VULKAN = "vulkan"
UPSCALE_DEVICE_HELP = "auto, cpu, cuda, mps, vulkan (ncnn's first Vulkan GPU) or vulkan:N"
_VULKAN_CHOICE = re.compile(r"vulkan(?::(\d+))?")


def parse_upscale_device(choice: str) -> tuple[str, int | None]:
    """An upscale device choice -> (kind, Vulkan index): ('cpu', None), ('vulkan', 0), ('vulkan', 2), ...
    ValueError names the choices for anything else."""
    if choice in DEVICE_CHOICES:
        return choice, None
    match = _VULKAN_CHOICE.fullmatch(choice)
    if match is None:
        raise ValueError(f"device must be one of {UPSCALE_DEVICE_HELP}, not {choice!r}")
    return VULKAN, int(match.group(1) or 0)


def torch_gpu_possible() -> bool:
    """Could PyTorch find a GPU here? False only where it surely cannot (no NVIDIA or AMD kernel driver, no
    CUDA library, not an Apple Silicon Mac), so that the question costs no torch import on such machines."""
    if sys.platform == "darwin":
        return platform.machine() == "arm64"
    if sys.platform == "win32":
        return ctypes.util.find_library("nvcuda") is not None
    # NVIDIA's kernel driver, AMD's (ROCm builds of torch answer as CUDA), WSL's CUDA library
    return any(Path(path).exists() for path in ("/proc/driver/nvidia/version", "/dev/kfd", "/usr/lib/wsl/lib/libcuda.so"))


def _mps_available() -> bool:
    import torch

    backend = getattr(torch.backends, "mps", None)
    return bool(backend and backend.is_available())


def torch_gpu_available() -> bool:
    """Does PyTorch see CUDA or Apple MPS (without importing torch where it cannot)?"""
    if not torch_gpu_possible():
        return False
    import torch

    return torch.cuda.is_available() or _mps_available()


def resolve_device(choice: str = "auto") -> torch.device:
    """Turn a user's choice into a device, refusing one this machine does not have."""
    import torch

    if choice not in DEVICE_CHOICES:
        raise ValueError(f"device must be one of {', '.join(DEVICE_CHOICES)}, not {choice!r}")
    if choice == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if _mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    if choice == "cuda" and not torch.cuda.is_available():
        raise ValueError("device 'cuda' was asked for, but no CUDA GPU is available")
    if choice == "mps" and not _mps_available():
        raise ValueError("device 'mps' was asked for, but Apple MPS is not available")
    return torch.device(choice)


def describe_device(device: torch.device) -> str:
    """A label a person recognises, e.g. 'CUDA: NVIDIA H100', 'Apple MPS', 'CPU'."""
    if device.type == "cuda":
        import torch

        return f"CUDA: {torch.cuda.get_device_name(device)}"
    if device.type == "mps":
        return "Apple MPS"
    return "CPU"


def available_devices() -> list[str]:
    """The explicit PyTorch choices that would resolve on this machine, best first."""
    found = []
    if torch_gpu_possible():
        import torch

        if torch.cuda.is_available():
            found.append("cuda")
        if _mps_available():
            found.append("mps")
    found.append("cpu")
    return found


def backend_status() -> dict[str, str]:
    """What this torch build can run on here, in words (the About box; a bug report's first lines)."""
    import torch

    cuda_build = torch.version.cuda
    if torch.cuda.is_available():
        names = ", ".join(torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count()))
        cuda = f"available: {names} (CUDA {cuda_build})"
    elif cuda_build:
        cuda = f"not available (torch is built for CUDA {cuda_build}, but no usable GPU or driver was found)"
    else:
        cuda = "not built into this torch"
    backend = getattr(torch.backends, "mps", None)
    if _mps_available():
        mps = "available"
    elif backend and backend.is_built():
        mps = "built into this torch, not available on this machine"
    else:
        mps = "not built into this torch (macOS builds only)"
    return {"PyTorch": torch.__version__, "CUDA": cuda, "Apple MPS": mps,
            "Default device": describe_device(resolve_device("auto"))}


def is_out_of_memory(exc: BaseException) -> bool:
    """Did the device (or the CPU's allocator) run out of memory? torch and ncnn say so in several ways;
    torch.OutOfMemoryError is known by its name, so that asking costs no torch import."""
    if isinstance(exc, MemoryError) or type(exc).__name__ == "OutOfMemoryError":
        return True
    text = str(exc)
    return isinstance(exc, RuntimeError) and ("out of memory" in text or "can't allocate memory" in text)
