"""What architecture a run's starting weights (`init_generator`) are, so the run trains that one.

Any model file spandrel loads, or one of our exports or checkpoints, can start a run: its architecture,
size and scale are read from the file and, when the architecture is in engine.archs.table, the run's
generator / gen_features / gen_blocks / scale / channels are set from it. A file spandrel does not know,
or an architecture the table lacks, is refused with the file's name and the reason, before anything runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from engine.archs.table import ARCHITECTURES
from engine.training.config import ConfigError, TrainConfig

# spandrel's architecture ids -> our table's names
SPANDREL_IDS = {"ESRGAN": "esrgan", "Compact": "compact", "SPAN": "span"}


@dataclass(frozen=True)
class InitArchitecture:
    """The architecture of a starting-weights file, as training-config fields."""

    generator: str
    scale: int
    channels: int
    gen_features: int | None  # None: the architecture has no such size (classic)
    gen_blocks: int | None

    def changes(self, config: TrainConfig) -> dict[str, Any]:
        """The config fields that differ from this file's architecture."""
        wanted = {"generator": self.generator, "scale": self.scale, "channels": self.channels,
                  "gen_features": self.gen_features, "gen_blocks": self.gen_blocks}
        return {k: v for k, v in wanted.items() if v is not None and getattr(config, k) != v}


def _from_spec(spec: dict[str, Any]) -> InitArchitecture:
    sizes = {"compact": ("num_feat", "num_conv"), "esrgan": ("num_feat", "num_block"),
             "span": ("feature_channels", None), "classic": (None, None)}[spec["arch"]]
    return InitArchitecture(spec["arch"], int(spec["scale"]), int(spec["in_channels"]),
                            spec[sizes[0]] if sizes[0] else None, spec[sizes[1]] if sizes[1] else None)


def _from_spandrel(state: dict[str, Any], name: str) -> InitArchitecture:
    """Identify a third-party state dict with spandrel, then check our table's network takes its weights."""
    from spandrel import ImageModelDescriptor, ModelLoader

    try:
        descriptor = ModelLoader().load_from_state_dict(state)
    except Exception:  # spandrel raises its own and assorted shape/key errors for unknown dicts
        raise ConfigError(f"init_generator {name}: not a model spandrel recognises") from None
    arch_id = descriptor.architecture.id
    if arch_id not in SPANDREL_IDS or not isinstance(descriptor, ImageModelDescriptor):
        raise ConfigError(f"init_generator {name}: a {descriptor.architecture.name} model; the trainable "
                          f"architectures are {', '.join(ARCHITECTURES)} ({', '.join(SPANDREL_IDS)} in spandrel)")
    weights = descriptor.model.state_dict()
    features, blocks = {
        "esrgan": lambda: (weights["model.0.weight"].shape[0],
                           len({k.split(".")[3] for k in weights if k.startswith("model.1.sub.")}) - 1),
        "compact": lambda: (weights["body.0.weight"].shape[0], (len({k.split(".")[1] for k in weights}) - 3) // 2),
        "span": lambda: (weights["conv_1.sk.weight"].shape[0], None),
    }[SPANDREL_IDS[arch_id]]()
    return InitArchitecture(SPANDREL_IDS[arch_id], descriptor.scale, descriptor.input_channels, features, blocks)


def init_architecture(source: str) -> InitArchitecture:
    """The architecture of the model file `source` names (a path or a bundled model's name)."""
    from engine.models import export
    from engine.models.registry import ModelLoadError, read_model_file, resolve_model_source

    try:
        path = resolve_model_source(source)
        model_file = read_model_file(path)
    except (ModelLoadError, OSError) as exc:
        raise ConfigError(f"init_generator: {exc}") from None
    if model_file.metadata.get("format") == export.FORMAT:
        spec = export.decode_metadata(model_file.metadata)["arch"]
    elif isinstance(model_file.content, dict) and "generator_spec" in model_file.content:
        spec = model_file.content["generator_spec"]
    else:
        spec = None
    if spec is not None:
        try:
            return _from_spec(spec)
        except (KeyError, TypeError, ValueError):
            raise ConfigError(f"init_generator {path.name}: its stored architecture {spec} is not one this "
                              f"version trains ({', '.join(ARCHITECTURES)})") from None
    content = model_file.content
    if not isinstance(content, dict):
        raise ConfigError(f"init_generator {path.name}: not a state dict of a model")
    return _from_spandrel(content, path.name)


def adopt_init_architecture(config: TrainConfig) -> tuple[TrainConfig, str]:
    """`config` with its generator set to its init_generator file's architecture, and a line saying what
    changed ("" when nothing did or the run starts from random weights). Raises ConfigError naming the
    file when it cannot start this run."""
    source = config.init_source()
    if not source:
        return config, ""
    found = init_architecture(source)
    changes = found.changes(config)
    if not changes:
        return config, ""
    try:
        adopted = config.replace(**changes)
    except ConfigError as exc:
        raise ConfigError(f"init_generator {source} is a {found.generator} x{found.scale} model, but {exc}") from None
    said = ", ".join(f"{k}={v}" for k, v in changes.items())
    return adopted, f"init_generator {source}: this run trains its architecture ({said})"
