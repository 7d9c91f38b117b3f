"""Training checkpoints: one `checkpoint.pt` per run, written atomically, read without pickle code.

Everything inside is tensors, numbers, strings, lists and dicts, so `torch.load(weights_only=True)`
reads it: a checkpoint from the internet cannot run code on this machine.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from engine.archs import build_generator
from engine.atomic import atomic_write
from engine.config import TrainConfig

FORMAT_VERSION = 1
CHECKPOINT_NAME = "checkpoint.pt"


class CheckpointError(ValueError):
    """The checkpoint is missing, unreadable or not ours; the message says which."""


def save_checkpoint(path: str | Path, state: dict[str, Any]) -> Path:
    """Write atomically: a crash mid-write leaves the previous checkpoint intact."""
    return atomic_write(path, lambda tmp: torch.save({"format_version": FORMAT_VERSION, **state}, tmp))


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"no checkpoint at {path}")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except (RuntimeError, OSError, ValueError, EOFError) as exc:
        raise CheckpointError(f"{path.name}: not a readable training checkpoint ({exc})") from None
    return checked_state(state, path.name)


def checked_state(state: Any, name: str) -> dict[str, Any]:
    """`state` (already loaded with weights_only) if it is a checkpoint this version can use."""
    if not isinstance(state, dict) or "generator_spec" not in state:
        raise CheckpointError(f"{name}: not an SRGAN Studio training checkpoint")
    if state.get("format_version", 0) > FORMAT_VERSION:
        raise CheckpointError(f"{name}: made by a newer version (format {state['format_version']})")
    return state


def load_run_config(out_dir: str | Path) -> TrainConfig:
    """The settings of the run stored in `out_dir`, to resume it as it was."""
    return TrainConfig.from_dict(load_checkpoint(Path(out_dir) / CHECKPOINT_NAME)["config"])


def cpu_state(module_or_optimizer: nn.Module | torch.optim.Optimizer) -> dict[str, Any]:
    """A detached CPU copy of a state dict, safe to keep while training goes on."""
    def copy(value: Any) -> Any:
        if isinstance(value, torch.Tensor):
            return value.detach().to("cpu", copy=True)
        if isinstance(value, dict):
            return {k: copy(v) for k, v in value.items()}
        if isinstance(value, list):
            return [copy(v) for v in value]
        return value

    return copy(module_or_optimizer.state_dict())


def capture_rng() -> dict[str, Any]:
    """Random generator states as tensors and lists (no numpy objects, so weights_only can load them)."""
    numpy_state = np.random.get_state()
    version, internal, gauss = random.getstate()
    return {
        "torch": torch.get_rng_state(),
        "numpy": {"keys": torch.from_numpy(numpy_state[1].astype(np.int64)), "pos": int(numpy_state[2]),
                  "has_gauss": int(numpy_state[3]), "cached_gaussian": float(numpy_state[4])},
        "python": {"version": version, "internal": list(internal), "gauss": gauss},
    }


def restore_rng(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    numpy_state = state["numpy"]
    np.random.set_state(("MT19937", numpy_state["keys"].numpy().astype(np.uint32), numpy_state["pos"],
                         numpy_state["has_gauss"], numpy_state["cached_gaussian"]))
    python_state = state["python"]
    random.setstate((python_state["version"], tuple(python_state["internal"]), python_state["gauss"]))


def value_range_of(model: nn.Module) -> tuple[float, float]:
    return tuple(getattr(model, "value_range", (0.0, 1.0)))  # type: ignore[return-value]


def load_generator_from_checkpoint(path: str | Path, which: str = "ema") -> tuple[nn.Module, dict[str, Any]]:
    """The generator of a training checkpoint, in eval mode on the CPU, and an info dict
    (spec, step, config, value_range, weights). `which="ema"` falls back to the raw weights when the
    run kept no EMA."""
    return generator_from_state(load_checkpoint(path), which, Path(path).name)


def generator_from_state(state: Any, which: str, name: str) -> tuple[nn.Module, dict[str, Any]]:
    """As load_generator_from_checkpoint, for a checkpoint already read (the model registry reads
    each file once)."""
    if which not in ("ema", "generator"):
        raise ValueError(f"which must be 'ema' or 'generator', not {which!r}")
    state = checked_state(state, name)
    weights = which if which == "generator" or state.get("ema") is not None else "generator"
    model = build_generator(state["generator_spec"])
    try:
        model.load_state_dict(state[weights])
    except RuntimeError as exc:
        raise CheckpointError(f"{name}: weights do not match the stored architecture ({exc})") from None
    info = {"spec": state["generator_spec"], "step": state["step"], "config": state["config"],
            "value_range": value_range_of(model), "weights": weights}
    return model.eval(), info
