"""The model registry: which files the upscaler can load, and how.

A file is read once, without running any code (safetensors, or torch.load with weights_only=True),
then offered to an explicit, ordered list of (predicate, loader) entries: our exports first, then our
training checkpoints, then any super-resolution architecture spandrel recognises.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file
from torch import nn

from engine.models import export
from engine.errors import CheckpointError, ModelLoadError
from engine.models.checkpoint_file import WHICH_WEIGHTS, generator_from_state
from engine.device import resolve_device
from engine.models.safe_load import load_torch_file
# Where model files are found lives in a module without torch (the ncnn path needs it); re-exported here.
from engine.models.sources import BUNDLED_DIR, DEFAULT_MODEL, bundled_models, resolve_model_source  # noqa: F401

ModelKind = Literal["srgan-studio", "checkpoint", "spandrel"]
# The endings of the weight files people pick: our exports, checkpoints, third-party .pth/.ckpt. Files are
# read by their contents, so this is only what the file dialogs list.
MODEL_SUFFIXES = (".safetensors", ".pth", ".pt", ".ckpt")


def weights_file_filter(label: str) -> str:
    """A file dialog's filter for weight files, then all files."""
    return f"{label} ({' '.join(f'*{suffix}' for suffix in MODEL_SUFFIXES)});;All files (*)"


@dataclass
class LoadedModel:
    """A network ready for inference (eval mode) and how to feed it.

    `min_size` / `size_multiple` are input-size requirements some third-party architectures have.
    """

    module: nn.Module
    scale: int
    in_channels: int
    value_range: tuple[float, float]
    name: str
    kind: ModelKind
    supports_half: bool
    supports_bf16: bool
    metadata: dict[str, Any] = field(default_factory=dict)
    min_size: int = 0
    size_multiple: int = 1

    @property
    def widest_channels(self) -> int:
        return widest_channels(self.module)


def widest_channels(module: nn.Module) -> int:
    """The most output channels of any convolution: what the engines' memory and cache estimates go by."""
    widths = [m.out_channels for m in module.modules() if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))]
    return max(widths, default=64)


@dataclass
class ModelFile:
    """A model file's content, read without executing anything."""

    path: Path
    content: Any  # a dict of tensors (safetensors) or whatever torch.load(weights_only=True) returned
    metadata: dict[str, str]  # safetensors metadata; empty for torch files


# ----------------------------------------------------------------------------- reading
def _is_safetensors(path: Path) -> bool:
    """safetensors = 8-byte little-endian header length, then a JSON header."""
    with path.open("rb") as handle:
        head = handle.read(9)
    return len(head) == 9 and head[8:9] == b"{" and 0 < int.from_bytes(head[:8], "little") < 100_000_000


def read_model_file(path: Path) -> ModelFile:
    """Read tensors without unpickling arbitrary objects; refuse code-carrying pickles."""
    if path.stat().st_size and _is_safetensors(path):
        try:
            with export.native_path(path) as readable:
                tensors = load_file(readable)
            return ModelFile(path, tensors, export.read_metadata(path))
        except (SafetensorError, export.ModelFileError, OSError) as exc:
            raise ModelLoadError(f"{path.name} is a damaged .safetensors file ({exc})") from None
    return ModelFile(path, load_torch_file(path, "model file", ModelLoadError), {})


# ----------------------------------------------------------------------------- loaders
def _is_our_export(model_file: ModelFile) -> bool:
    return model_file.metadata.get("format") == export.FORMAT


def _ours(module: nn.Module, name: str, kind: ModelKind, metadata: dict[str, Any]) -> LoadedModel:
    """One of our generators, fed as its architecture declares."""
    return LoadedModel(module=module, scale=module.scale, in_channels=module.in_channels,
                       value_range=tuple(module.value_range), name=name, kind=kind,
                       supports_half=module.supports_half, supports_bf16=module.supports_bf16, metadata=metadata,
                       min_size=module.min_size, size_multiple=module.size_multiple)


def _load_export(model_file: ModelFile, which: str) -> LoadedModel:
    try:
        module, meta = export.generator_from_content(model_file.content, model_file.metadata, model_file.path.name)
    except (export.ModelFileError, ValueError) as exc:
        raise ModelLoadError(str(exc)) from None
    return _ours(module, model_file.path.stem, "srgan-studio", meta)


def _is_training_checkpoint(model_file: ModelFile) -> bool:
    return isinstance(model_file.content, dict) and "generator_spec" in model_file.content


def _load_checkpoint(model_file: ModelFile, which: str) -> LoadedModel:
    """Our trainer's checkpoint, through the trainer's own reader; `which` picks EMA or raw weights."""
    try:
        module, info = generator_from_state(model_file.content, which, model_file.path.name)
    except (CheckpointError, ValueError) as exc:
        raise ModelLoadError(str(exc)) from None
    return _ours(module, f"{model_file.path.stem} ({info['weights']})", "checkpoint", info)


def _is_state_dict(model_file: ModelFile) -> bool:
    return isinstance(model_file.content, dict)


def _load_spandrel(model_file: ModelFile, which: str) -> LoadedModel:
    """Third-party SR models, identified by spandrel from the (already safely loaded) state dict."""
    from spandrel import ImageModelDescriptor, ModelLoader

    name = model_file.path.name
    not_sr = f"{name} is not a super-resolution model spandrel recognises"
    try:
        descriptor = ModelLoader().load_from_state_dict(model_file.content)
    except Exception:  # spandrel raises its own and assorted shape/key errors for unknown dicts
        raise ModelLoadError(not_sr) from None
    if not isinstance(descriptor, ImageModelDescriptor) or descriptor.scale < 1:
        raise ModelLoadError(not_sr)
    if descriptor.input_channels not in (1, 3) or descriptor.output_channels != descriptor.input_channels:
        raise ModelLoadError(f"{name}: {descriptor.input_channels}-in/{descriptor.output_channels}-out channel "
                             "models are not supported (grey or RGB only)")
    requirements = descriptor.size_requirements
    return LoadedModel(module=descriptor.model.eval(), scale=descriptor.scale,
                       in_channels=descriptor.input_channels, value_range=(0.0, 1.0), name=model_file.path.stem,
                       kind="spandrel", supports_half=descriptor.supports_half,
                       supports_bf16=descriptor.supports_bfloat16,
                       metadata={"architecture": descriptor.architecture.name,
                                 "architecture_id": descriptor.architecture.id, "tags": list(descriptor.tags)},
                       min_size=requirements.minimum, size_multiple=requirements.multiple_of)


# Tried in order; the first entry whose predicate accepts the file loads it.
REGISTRY: list[tuple[Callable[[ModelFile], bool], Callable[[ModelFile, str], LoadedModel]]] = [
    (_is_our_export, _load_export),
    (_is_training_checkpoint, _load_checkpoint),
    (_is_state_dict, _load_spandrel),
]


# ----------------------------------------------------------------------------- public
def load_model(source: str | Path, device: str | torch.device | None = None, which: str = "ema") -> LoadedModel:
    """Load any supported model file, in eval mode, on `device` (None = stay on the CPU)."""
    if which not in WHICH_WEIGHTS:
        raise ModelLoadError(f"which must be one of {', '.join(WHICH_WEIGHTS)}, not {which!r}")
    path = resolve_model_source(source)
    try:
        model_file = read_model_file(path)
    except PermissionError:
        raise ModelLoadError(f"cannot read {path}: permission denied") from None
    except OSError as exc:
        raise ModelLoadError(f"cannot read {path}: {exc.strerror or exc}") from None
    for accepts, loader in REGISTRY:
        if accepts(model_file):
            model = loader(model_file, which)
            break
    else:
        raise ModelLoadError(f"{path.name} is not a super-resolution model spandrel recognises")
    if device is not None:
        model.module.to(resolve_device(device) if isinstance(device, str) else device)
    model.module.requires_grad_(False)
    return model


# ----------------------------------------------------------------------------- descriptions
PHOTO_PURPOSE = "For photos: phone pictures, web JPEGs, scans (cleans noise and JPEG blocks)"
# What a model of ours is for, by the training phase its metadata records.
PHASE_PURPOSES = {"gan": "Sharp detail, for clean images", "pretrain": "Faithful to the original, for clean images"}


def _purpose(metadata: dict[str, str]) -> str:
    """What one of our exports is for: its own 'description', else what its training says."""
    if metadata.get("description"):
        return metadata["description"]
    try:
        config = json.loads(metadata.get("config", "{}"))
    except json.JSONDecodeError:
        config = {}
    if isinstance(config, dict) and config.get("degradation") == "realistic":
        return PHOTO_PURPOSE
    return PHASE_PURPOSES.get(metadata.get("phase", ""), "Trained with SRGAN Studio")


def describe_model(path: str | Path) -> str:
    """One line for a model picker: what the model is for, its scale and its size on disk.

    Reads only a safetensors header (never the weights), so it is quick for any number of models;
    other files are described by their kind and size.
    """
    path = Path(path)
    try:
        size = f"{path.stat().st_size / 1e6:.1f} MB"
        safetensors = _is_safetensors(path)
    except OSError:
        return "Not found"
    if not safetensors:
        return f"PyTorch model file · {size}"
    try:
        metadata = export.read_metadata(path)
    except export.ModelFileError:
        return f"Damaged model file · {size}"
    if metadata.get("format") != export.FORMAT:  # e.g. Real-ESRGAN's weights, converted with a description
        return f"{metadata['description']} · {size}" if metadata.get("description") else f"Third-party model · {size}"
    return f"{_purpose(metadata)} · ×{metadata.get('scale', '?')} · {size}"

