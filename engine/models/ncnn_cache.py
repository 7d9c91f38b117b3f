"""Model files converted to ncnn once, kept in the user's cache folder, keyed by the file's content.

The first use of a model file in ncnn loads it in PyTorch and writes its `.param` + `.bin` through the
exporter (`engine.models.ncnn_export`); every later use, in this process or the next launch, reads the
pair and a small record (`model.json`) without importing torch. The key is the SHA-256 of the model
file, the weights picked from it (a checkpoint holds two sets) and the exporter's version, so a file
renamed or copied is not converted again and a changed one is. The record is written last and holds
the SHA-256 of both files: an entry that a crash, a full disk or a stray edit left damaged is found and
rebuilt. A file ncnn cannot run (an operation the exporter refuses) gets a record of the reason, so the
next launch goes to PyTorch without tracing it again. A strength mix (`engine.models.strength`) is kept the
same way under the contents of both files and the strength, so a batch at a strength used before starts
without torch; such mixes, and models given in memory, are kept up to KEPT_MIXES, the least recently used
removed first.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from engine.errors import ModelLoadError
from engine.io.atomic import atomic_write
from engine.models.sources import content_hash, partner_for_strength, resolve_model_source
from engine.user_cache import user_cache_dir

if TYPE_CHECKING:
    from engine.models.registry import LoadedModel

# Raise when the exporter's output for the same weights changes, so that old conversions are not used.
CONVERTER_VERSION = 2  # 2: activations and scaled sums fused into one layer
RECORD, PARAM, WEIGHTS = "model.json", "model.param", "model.bin"
MIXES, IN_MEMORY = "mixes", "in-memory"  # folders of entries that come and go (a slider's values, tests)
KEPT_MIXES = 8
ENTRY_NAME = re.compile(r"[0-9a-f]{40}")  # what prune may remove: an entry folder of ours, nothing else


@dataclass
class NcnnModelInfo:
    """What the upscaler needs to know about a converted model (the `ModelShape` of a `LoadedModel`)."""

    scale: int
    in_channels: int
    value_range: tuple[float, float]
    name: str
    kind: str
    supports_half: bool
    widest_channels: int  # the widest convolution: the automatic tile size's memory estimate
    min_size: int = 0
    size_multiple: int = 1


@dataclass
class NcnnModel:
    """A converted model: its files and what it is; `param` / `weights` are None when ncnn cannot run it,
    and `refusal` says why."""

    info: NcnnModelInfo | None
    param: Path | None
    weights: Path | None
    refusal: str = ""
    converted_now: bool = False


def cache_folder() -> Path:
    return user_cache_dir() / "ncnn"


def _digest(path: Path) -> str:
    try:
        return content_hash(path)
    except OSError as exc:
        raise ModelLoadError(f"cannot read {path}: {exc.strerror or exc}") from None


def entry_folder(path: Path, which: str) -> Path:
    """Where the conversion of the model file `path` is kept. ModelLoadError when it cannot be read."""
    key = hashlib.sha256(f"{_digest(path)}|{which}|{CONVERTER_VERSION}".encode()).hexdigest()[:40]
    return cache_folder() / key


def mix_folder(path: Path, which: str, strength: float) -> Path:
    """Where the conversion of `path` mixed with its partner at `strength` is kept. ModelLoadError when
    it has no partner or a file cannot be read."""
    partner = partner_for_strength(path)
    key = f"{_digest(path)}|{which}|{_digest(partner)}|{float(strength)!r}|{CONVERTER_VERSION}"
    return cache_folder() / MIXES / hashlib.sha256(key.encode()).hexdigest()[:40]


def _prune(parent: Path, keep: Path) -> None:
    """Remove all but the KEPT_MIXES most recently used entries under `parent` (`keep` among them)."""
    def last_used(folder: Path) -> float:
        try:
            return (folder / RECORD).stat().st_mtime
        except OSError:
            return 0.0

    entries = [folder for folder in parent.iterdir()
               if ENTRY_NAME.fullmatch(folder.name) and folder.is_dir() and not folder.is_symlink()]
    entries.sort(key=lambda folder: (folder == keep, last_used(folder)), reverse=True)
    for folder in entries[KEPT_MIXES:]:
        shutil.rmtree(folder, ignore_errors=True)


def _read_entry(folder: Path, stem: str) -> NcnnModel | None:
    """The entry as it is on disk, or None when it is missing or damaged in any way."""
    try:
        record = json.loads((folder / RECORD).read_text(encoding="utf-8"))
        if record.get("refusal"):
            return NcnnModel(None, None, None, str(record["refusal"]))
        param, weights = folder / PARAM, folder / WEIGHTS
        if content_hash(param) != record["param_sha256"] or content_hash(weights) != record["weights_sha256"]:
            return None
        fields = dict(record["info"])
        fields["name"] = stem + fields.pop("name_suffix")
        fields["value_range"] = tuple(fields["value_range"])
        return NcnnModel(NcnnModelInfo(**fields), param, weights)
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _convert(folder: Path | None, path: Path, model: LoadedModel) -> NcnnModel:
    """Convert and write the entry (the record last) into `folder`, or (None) into a folder named by the
    conversion itself, for a model that was given in memory rather than read from `path`."""
    from engine.models.ncnn_export import NcnnExportError, convert_to_ncnn

    try:
        converted = convert_to_ncnn(model.module)
    except NcnnExportError as exc:
        reason = str(exc).removeprefix("ncnn export: ")
        if folder is not None:
            folder.mkdir(parents=True, exist_ok=True)
            atomic_write(folder / RECORD, lambda tmp: tmp.write_text(json.dumps({"refusal": reason}),
                                                                      encoding="utf-8"))
        return NcnnModel(None, None, None, reason, converted_now=True)
    if folder is None:
        digest = hashlib.sha256(converted.param.encode("ascii") + converted.weights).hexdigest()[:40]
        folder = cache_folder() / IN_MEMORY / digest
    folder.mkdir(parents=True, exist_ok=True)
    info = NcnnModelInfo(scale=model.scale, in_channels=model.in_channels, value_range=tuple(model.value_range),
                         name=model.name, kind=model.kind, supports_half=model.supports_half,
                         widest_channels=model.widest_channels, min_size=model.min_size,
                         size_multiple=model.size_multiple)
    param, weights = folder / PARAM, folder / WEIGHTS
    atomic_write(weights, lambda tmp: tmp.write_bytes(converted.weights))
    atomic_write(param, lambda tmp: tmp.write_text(converted.param, encoding="ascii"))
    fields = asdict(info)
    fields["name_suffix"] = model.name[len(path.stem):] if model.name.startswith(path.stem) else ""
    del fields["name"]
    record = {"source": str(path), "info": fields,
              "param_sha256": hashlib.sha256(converted.param.encode("ascii")).hexdigest(),
              "weights_sha256": hashlib.sha256(converted.weights).hexdigest()}
    atomic_write(folder / RECORD, lambda tmp: tmp.write_text(json.dumps(record, indent=1), encoding="utf-8"))
    if folder.parent.name in (MIXES, IN_MEMORY):
        _prune(folder.parent, folder)
    return NcnnModel(info, param, weights, converted_now=True)


def ncnn_model(source: str | Path, which: str = "ema", loaded: LoadedModel | None = None,
               strength: float | None = None) -> NcnnModel:
    """The ncnn conversion of a model file, or (`strength` below 1) of its mix with its partner: from the
    cache, or converted now. With `loaded` (a model already in memory, which may differ from the file, e.g.
    one a test or benchmark built), that model is converted, under a key of its own. Raises ModelLoadError
    for a file that is no model, or a strength for a model without a partner."""
    path = resolve_model_source(source)
    if loaded is not None:
        return _convert(None, path, loaded)
    mixed = strength is not None and strength < 1
    folder = mix_folder(path, which, strength) if mixed else entry_folder(path, which)
    found = _read_entry(folder, path.stem)
    if found is not None:
        if mixed:
            (folder / RECORD).touch()  # recently used: the last to be pruned
        return found
    from engine.models.strength import load_at_strength

    return _convert(folder, path, load_at_strength(path, which, strength if mixed else None))
