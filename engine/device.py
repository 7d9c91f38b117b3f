"""One place that decides where tensors live (CUDA, then Apple MPS, then the CPU) and how many CPU threads
a run beside the window uses."""

from __future__ import annotations

import os

import torch

DEVICE_CHOICES = ("auto", "cpu", "cuda", "mps")


# torch's CPU threads for a run that shares the machine with a window, leaving the window a core: an op waits
# for its slowest thread, and with the window drawing beside them two threads on a 2-core CPU made a default
# training step 3-16x slower than one (0.04-0.20 vs 0.64-0.68 steps/s, interleaved on a shared CPU).
THREADS_BESIDE_A_WINDOW = max(1, (os.cpu_count() or 1) - 1)


def set_cpu_threads(count: int) -> None:
    """torch's CPU threads for this thread's ops from now on (and the default of threads started later)."""
    torch.set_num_threads(count)


def _mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend and backend.is_available())


def resolve_device(choice: str = "auto") -> torch.device:
    """Turn a user's choice into a device, refusing one this machine does not have."""
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
        return f"CUDA: {torch.cuda.get_device_name(device)}"
    if device.type == "mps":
        return "Apple MPS"
    return "CPU"


def available_devices() -> list[str]:
    """The explicit choices that would resolve on this machine, best first."""
    found = []
    if torch.cuda.is_available():
        found.append("cuda")
    if _mps_available():
        found.append("mps")
    found.append("cpu")
    return found


def backend_status() -> dict[str, str]:
    """What this torch build can run on here, in words (the About box; a bug report's first lines)."""
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
