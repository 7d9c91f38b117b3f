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


# ----------------------------------------------------------------------------- jobs and partners
PHOTO_FAST_MODEL = "realesr-general-x4v3"  # what the window picks for a dropped photo
# The picker's first entries, named by the job as Upscayl names its models: label -> bundled model name.
JOB_MODELS = {"Photos (fast)": PHOTO_FAST_MODEL, "Photos (best, slow on a CPU)": "realesrgan-x4plus",
              "Anime and drawings": "realesrgan-x4plus-anime", "Faithful (no invented detail)": "faithful-x4"}
# Bundled models with a partner of the same architecture and lineage for the strength setting
# (engine/models/strength.py): model (strength 1, crisp) -> partner (strength 0, faithful). default-x4 is
# the GAN fine-tune of faithful-x4's first version, faithful-x4 that version trained further on L1;
# photo-faithful-x4 is general-x4v3 fine-tuned here on L1 (Real-ESRGAN's wdn partner plays that part for -dn).
STRENGTH_PARTNERS = {"default-x4": "faithful-x4", PHOTO_FAST_MODEL: "photo-faithful-x4"}


def strength_models() -> list[str]:
    """The bundled models that have a strength setting (they and their partner are both there)."""
    bundled = bundled_models()
    return [name for name, partner in STRENGTH_PARTNERS.items() if name in bundled and partner in bundled]


def strength_partner(source: str | Path) -> Path | None:
    """The partner file of `source` (a bundled model's name or path), None when it has none."""
    path = resolve_model_source(source).resolve()
    bundled = bundled_models()
    for name, partner in STRENGTH_PARTNERS.items():
        if name in bundled and partner in bundled and bundled[name].resolve() == path:
            return bundled[partner]
    return None


def partner_for_strength(source: str | Path) -> Path:
    """The partner file a strength setting mixes `source` with; ModelLoadError naming the models that have
    one when `source` has none."""
    partner = strength_partner(source)
    if partner is None:
        raise ModelLoadError(f"{Path(str(source)).stem} has no strength setting (only models with a partner "
                             f"of the same architecture have one: {', '.join(strength_models()) or 'none here'})")
    return partner
