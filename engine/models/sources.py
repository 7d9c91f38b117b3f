"""Where model files are: the bundled ones by name, 'default', or a path. No torch here: the ncnn path
finds its model file (and its cached conversion) without loading PyTorch."""

from __future__ import annotations

import hashlib
from pathlib import Path

from engine.errors import ModelLoadError
from engine.resources import resource_path

BUNDLED_DIR = resource_path("models")
DEFAULT_MODEL = "default-x4"
WHICH_WEIGHTS = ("ema", "generator")  # a training checkpoint's two sets of weights (engine.training.checkpoint)
HASH_BLOCK = 1 << 20


def bundled_models() -> dict[str, Path]:
    """Models shipped in resources/models, by file stem."""
    if not BUNDLED_DIR.is_dir():
        return {}
    return {path.stem: path for path in sorted(BUNDLED_DIR.glob("*.safetensors"))}


def resolve_model_source(source: str | Path) -> Path:
    """'default', a bundled model's name, or a path -> an existing model file."""
    text = str(source)
    if text == "default":
        path = BUNDLED_DIR / f"{DEFAULT_MODEL}.safetensors"
        if not path.is_file():
            raise ModelLoadError(f"the default model ({path}) is not there yet; train one or pass a model file")
        return path
    bundled = bundled_models()
    if text in bundled:
        return bundled[text]
    path = Path(source)
    if not path.exists():
        raise ModelLoadError(f"model not found: {text} (not a file, nor a bundled model: "
                             f"{', '.join(['default', *bundled]) })")
    if not path.is_file():
        raise ModelLoadError(f"{text} is a folder, not a model file")
    return path


def content_hash(path: Path) -> str:
    """SHA-256 of a file's bytes: what a model is, wherever it lies and whatever its name."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(HASH_BLOCK), b""):
            digest.update(block)
    return digest.hexdigest()
