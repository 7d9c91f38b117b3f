"""Training checkpoints: written atomically, read without pickle code, checked against a checksum.

Everything inside is tensors, numbers, strings, lists and dicts, so `torch.load(weights_only=True)`
reads it: a checkpoint from the internet cannot run code on this machine. A SHA-256 of the content is
stored with it, because a flipped byte inside a tensor would otherwise load silently.

Layout (format 2): "config" and "generator_spec"; "gan" (the GAN step's state: generator, ema,
discriminator, optimisers, scalers); "progress" (step, learning-rate scale, history, best score...);
"best_generator" (the weights best.safetensors is exported from); "rng"; "checksum".
"""

from __future__ import annotations

import hashlib
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from engine.archs.table import build_generator
from engine.io.atomic import atomic_write
from engine.errors import CheckpointError
from engine.models.safe_load import load_torch_file
from engine.models.sources import WHICH_WEIGHTS

FORMAT_VERSION = 2
REQUIRED_KEYS = ("config", "generator_spec", "gan", "progress", "rng")


def _feed(digest: Any, value: Any) -> None:
    """Hash `value` in a canonical order (dict keys sorted), tensors by dtype, shape and bytes."""
    if isinstance(value, torch.Tensor):
        flat = value.detach().to("cpu").contiguous().view(-1)
        digest.update(f"T{flat.dtype}{tuple(value.shape)}".encode())
        digest.update(flat.view(torch.uint8).numpy().tobytes())
    elif isinstance(value, dict):
        digest.update(f"D{len(value)}".encode())
        for key in sorted(value, key=repr):
            digest.update(repr(key).encode())
            _feed(digest, value[key])
    elif isinstance(value, (list, tuple)):
        digest.update(f"L{len(value)}".encode())
        for item in value:
            _feed(digest, item)
    else:
        digest.update(repr(value).encode())


def checksum(state: dict[str, Any]) -> str:
    digest = hashlib.sha256()
    _feed(digest, {key: value for key, value in state.items() if key != "checksum"})
    return digest.hexdigest()


def save_checkpoint(path: str | Path, state: dict[str, Any]) -> Path:
    """Write atomically: a crash mid-write leaves the previous checkpoint intact."""
    state = {"format_version": FORMAT_VERSION, **state}
    state["checksum"] = checksum(state)
    return atomic_write(path, lambda tmp: torch.save(state, tmp))


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """A checkpoint this version can resume; CheckpointError (one line, naming the file) otherwise."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"no checkpoint at {path}")
    state = checked_state(load_torch_file(path, "training checkpoint", CheckpointError), path.name)
    if state["format_version"] < FORMAT_VERSION:
        raise CheckpointError(f"{path.name} was made by an older SRGAN Studio (format {state['format_version']}): it "
                              f"can upscale or start a new run (init_generator), but not be resumed")
    missing = [key for key in REQUIRED_KEYS if key not in state]
    if missing:
        raise CheckpointError(f"{path.name} is not a complete training checkpoint (no {', '.join(missing)})")
    return state


def checked_state(state: Any, name: str) -> dict[str, Any]:
    """`state` (already loaded with weights_only) if it is an intact checkpoint of a known format."""
    if not isinstance(state, dict) or "generator_spec" not in state:
        raise CheckpointError(f"{name} is not an SRGAN Studio training checkpoint")
    version = state.get("format_version", 1)
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise CheckpointError(f"{name} was made by a newer version (format {version})")
    if "checksum" in state and state["checksum"] != checksum(state):
        raise CheckpointError(f"{name} is damaged: its content does not match its checksum")
    state.setdefault("format_version", version)
    return state


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


def generator_from_state(state: Any, which: str, name: str) -> tuple[nn.Module, dict[str, Any]]:
    """The generator of a checkpoint already read (EMA or raw weights; EMA falls back to raw when the run
    kept none), in eval mode on the CPU, and an info dict (spec, step, config, weights)."""
    if which not in WHICH_WEIGHTS:
        raise ValueError(f"which must be one of {', '.join(WHICH_WEIGHTS)}, not {which!r}")
    state = checked_state(state, name)
    weights_of = state.get("gan", state)  # format 1 kept the weights at the top level
    weights = which if which == "generator" or weights_of.get("ema") is not None else "generator"
    try:
        model = build_generator(state["generator_spec"])
        model.load_state_dict(weights_of[weights])
    except (RuntimeError, ValueError, KeyError, TypeError) as exc:
        raise CheckpointError(f"{name}: weights do not match the stored architecture ({exc})") from None
    step = state.get("progress", state).get("step", 0)
    info = {"spec": state["generator_spec"], "step": step, "config": state.get("config", {}), "weights": weights}
    return model.eval(), info
