"""Training checkpoints: written atomically, read without pickle code, checked against a checksum.

Everything inside is tensors, numbers, strings, lists and dicts, so `torch.load(weights_only=True)`
reads it: a checkpoint from the internet cannot run code on this machine. A SHA-256 of the content is
stored with it, because a flipped byte inside a tensor would otherwise load silently.

Layout (format 3): "config" and "generator_spec"; "gan" (the GAN step's state: generator, ema,
discriminator, optimisers, scalers); "progress" (step and history); "components" (each stateful part of
the loop under its own name: "best" with the weights best.safetensors is exported from, "rollback",
"collapse", "frozen"); "rng"; "checksum". Format 2 flattened the components into "progress" and kept
the best weights at the top level: `component_states` reads both, so older runs still resume.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from engine.io.atomic import atomic_write
from engine.errors import CheckpointError
from engine.models.checkpoint_file import FORMAT_VERSION, checked_state, checksum
from engine.models.safe_load import load_torch_file

OLDEST_RESUMABLE = 2  # format 1 kept no optimiser state
REQUIRED_KEYS = ("config", "generator_spec", "gan", "progress", "rng")


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
    if state["format_version"] < OLDEST_RESUMABLE:
        raise CheckpointError(f"{path.name} was made by an older SRGAN Studio (format {state['format_version']}): it "
                              f"can upscale or start a new run (init_generator), but not be resumed")
    missing = [key for key in REQUIRED_KEYS if key not in state]
    if missing:
        raise CheckpointError(f"{path.name} is not a complete training checkpoint (no {', '.join(missing)})")
    return state


def component_states(state: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Each loop component's state by name, from a checkpoint of format 3 or of format 2 (flat in "progress")."""
    if "components" in state:
        return state["components"]
    flat = state["progress"]
    return {"best": {"psnr": flat["best_psnr"], "step": flat["best_step"], "last_validation": flat["last_validation"],
                     "generator": state.get("best_generator")},
            "rollback": {"lr_scale": flat["lr_scale"], "reshuffles": flat["reshuffles"]},
            "collapse": dict(zip(("below", "previous"), flat["collapse"])),
            "frozen": {"fingerprint": flat["fingerprint"]}}


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
