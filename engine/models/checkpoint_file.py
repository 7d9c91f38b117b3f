"""A training checkpoint read as a model file: its format version, its checksum and its generator.

Training writes and resumes checkpoints (engine/training/checkpoint.py, which holds the layout); the
registry also offers them to the upscaler, so what both read lives here, below training.
"""

from __future__ import annotations

import hashlib
from typing import Any

import torch
from torch import nn

from engine.archs.table import build_generator
from engine.errors import CheckpointError
from engine.models.sources import WHICH_WEIGHTS

FORMAT_VERSION = 3


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
