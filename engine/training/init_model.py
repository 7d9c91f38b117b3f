"""What architecture a run's starting weights (`init_generator`) are, so the run trains that one.

Any model file spandrel loads, or one of our exports or checkpoints, can start a run: its architecture,
size and scale are read from the file and, when the architecture is in engine.archs.table, the run's
generator / gen_features / gen_blocks / scale / channels are set from it. A file spandrel does not know,
or an architecture the table lacks, is refused with the file's name and the reason, before anything runs.
The file is read and identified once (`read_init_model`); the GAN step starts from the weights read then.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from engine.archs.table import ARCHITECTURES
from engine.errors import ModelLoadError
from engine.training.config import ConfigError, TrainConfig

if TYPE_CHECKING:
    from engine.models.registry import LoadedModel

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


def _from_spandrel(loaded: LoadedModel, name: str) -> InitArchitecture:
    """A third-party model spandrel identified, if our table trains its architecture."""
    arch_id = loaded.metadata["architecture_id"]
    if arch_id not in SPANDREL_IDS:
        raise ConfigError(f"init_generator {name}: a {loaded.metadata['architecture']} model; the trainable "
                          f"architectures are {', '.join(ARCHITECTURES)} ({', '.join(SPANDREL_IDS)} in spandrel)")
    weights = loaded.module.state_dict()
    features, blocks = {
        "esrgan": lambda: (weights["model.0.weight"].shape[0],
                           len({k.split(".")[3] for k in weights if k.startswith("model.1.sub.")}) - 1),
        "compact": lambda: (weights["body.0.weight"].shape[0], (len({k.split(".")[1] for k in weights}) - 3) // 2),
        "span": lambda: (weights["conv_1.sk.weight"].shape[0], None),
    }[SPANDREL_IDS[arch_id]]()
    return InitArchitecture(SPANDREL_IDS[arch_id], loaded.scale, loaded.in_channels, features, blocks)


@dataclass(frozen=True)
class InitModel:
    """A run's starting-weights file, read and identified once: the trainer adopts its architecture and the
    GAN step starts from its weights."""

    source: str
    architecture: InitArchitecture
    weights: dict[str, torch.Tensor]

    def adopt(self, config: TrainConfig) -> tuple[TrainConfig, str]:
        """`config` with its generator set to this file's architecture, and a line saying what changed ("" when
        nothing did). Raises ConfigError naming the file when it cannot start this run."""
        found = self.architecture
        changes = found.changes(config)
        if not changes:
            return config, ""
        try:
            adopted = config.replace(**changes)
        except ConfigError as exc:
            raise ConfigError(f"init_generator {self.source} is a {found.generator} x{found.scale} model, "
                              f"but {exc}") from None
        said = ", ".join(f"{k}={v}" for k, v in changes.items())
        return adopted, f"init_generator {self.source}: this run trains its architecture ({said})"

    def load_into(self, generator: nn.Module) -> None:
        """Copy the weights into `generator`; one of another architecture or size is refused naming both."""
        try:
            generator.load_state_dict(self.weights)
        except RuntimeError:
            raise ConfigError(f"init_generator {self.source} does not match this run's generator "
                              f"({generator.spec()}); train with the same architecture and size, or set "
                              f"init_generator empty to start from random weights") from None


def read_init_model(source: str) -> InitModel:
    """The model file `source` names (a path or a bundled model's name: our export or checkpoint, whose EMA
    weights are taken, or any file spandrel loads), read once through the model registry."""
    from engine.models.registry import load_model  # reads every format we write, without running code

    try:
        loaded = load_model(source, device=torch.device("cpu"))
    except ModelLoadError as exc:
        raise ConfigError(f"init_generator: {exc}") from None
    name = Path(str(source)).name
    architecture = _from_spandrel(loaded, name) if loaded.kind == "spandrel" else _from_spec(loaded.module.spec())
    return InitModel(str(source), architecture, loaded.module.state_dict())
