"""Generators as `.safetensors` files with metadata: loadable without pickle, by us and by spandrel.

The metadata (all strings, as safetensors requires) says how to rebuild the network and how to feed
it: architecture spec, scale, channels, value range, and the training config that made it.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, safe_open, save_file
from torch import nn

from engine.archs.table import build_generator
from engine.io.atomic import atomic_write

FORMAT = "srgan-studio-generator"
FORMAT_VERSION = "1"


class ModelFileError(ValueError):
    """The file is not a generator this program can load; the message says why."""


def export_generator(path: str | Path, state_dict: dict[str, torch.Tensor], spec: dict[str, Any],
                     value_range: tuple[float, float], extra: dict[str, Any] | None = None,
                     overwrite: bool = True) -> Path:
    """Write `state_dict` (CPU copies, contiguous) atomically with the metadata to rebuild it.

    `extra` values (training config, data, steps, metrics...) are stored JSON-encoded.
    """
    tensors = {k: v.detach().to("cpu").contiguous().clone() for k, v in state_dict.items()}
    metadata = {"format": FORMAT, "format_version": FORMAT_VERSION, "arch": json.dumps(spec),
                "scale": str(spec["scale"]), "in_channels": str(spec["in_channels"]),
                "value_range": json.dumps(list(value_range))}
    for key, value in (extra or {}).items():  # a name from a non-UTF-8 path keeps its bytes as \udcXX text
        metadata[key] = value.encode("utf-8", "backslashreplace").decode() if isinstance(value, str) else \
            json.dumps(value)
    return atomic_write(path, lambda tmp: save_file(tensors, str(tmp), metadata=metadata), overwrite=overwrite)


@contextlib.contextmanager
def native_path(path: str | Path) -> Iterator[str]:
    """`path` as safetensors' Rust code can take it: only valid UTF-8. A name that is not (Python keeps its
    bytes as surrogates) is opened here and handed over as /dev/fd/N, the same file."""
    text = str(path)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        fd = os.open(path, os.O_RDONLY)
        try:
            yield f"/dev/fd/{fd}"
        finally:
            os.close(fd)
    else:
        yield text


def read_metadata(path: str | Path) -> dict[str, str]:
    """The metadata of a `.safetensors` file (empty dict if it has none)."""
    try:
        with native_path(path) as readable, safe_open(readable, framework="pt") as handle:
            return dict(handle.metadata() or {})
    except (SafetensorError, OSError, ValueError) as exc:
        raise ModelFileError(f"{Path(path).name}: not a readable .safetensors file ({exc})") from None


def decode_metadata(raw: dict[str, str]) -> dict[str, Any]:
    """Metadata values back from their JSON text (plain strings stay strings)."""
    meta: dict[str, Any] = {}
    for key, value in raw.items():
        try:
            meta[key] = json.loads(value)
        except json.JSONDecodeError:
            meta[key] = value
    return meta


def generator_from_content(tensors: dict[str, torch.Tensor], raw: dict[str, str],
                           name: str) -> tuple[nn.Module, dict[str, Any]]:
    """Rebuild one of our exports from its already-read tensors and metadata: the module (eval mode, CPU)
    and the decoded metadata."""
    if raw.get("format") != FORMAT:
        raise ModelFileError(f"{name}: not an SRGAN Studio export (no '{FORMAT}' metadata)")
    meta = decode_metadata(raw)
    try:
        model = build_generator(meta["arch"])
        model.load_state_dict(tensors)
    except (RuntimeError, ValueError, KeyError, TypeError) as exc:
        raise ModelFileError(f"{name}: weights do not match the stored architecture ({exc})") from None
    return model.eval(), meta


def load_generator(path: str | Path) -> tuple[nn.Module, dict[str, Any]]:
    """Rebuild and load one of our exports from a file."""
    raw = read_metadata(path)
    try:
        with native_path(path) as readable:
            tensors = load_file(readable)
    except (SafetensorError, OSError) as exc:
        raise ModelFileError(f"{Path(path).name}: not a readable .safetensors file ({exc})") from None
    return generator_from_content(tensors, raw, Path(path).name)
