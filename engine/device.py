"""One place that decides where tensors live (CUDA, then Apple MPS, then the CPU) and names the number
formats they are computed in."""

from __future__ import annotations


import torch

DEVICE_CHOICES = ("auto", "cpu", "cuda", "mps")
PRECISIONS = ("fp32", "bf16", "fp16")  # training's and upscaling's choices; half precision is for GPUs


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


def is_out_of_memory(exc: BaseException) -> bool:
    """Did the device (or the CPU's allocator) run out of memory? torch says so in several ways."""
    if isinstance(exc, (torch.OutOfMemoryError, MemoryError)):
        return True
    text = str(exc)
    return isinstance(exc, RuntimeError) and ("out of memory" in text or "can't allocate memory" in text)
