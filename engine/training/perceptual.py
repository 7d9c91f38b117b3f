"""VGG perceptual loss with offline weights.

Nothing is ever downloaded. The weights come from, in order: a file the user names, torchvision's hub
cache (if torchvision ever downloaded them on this machine), or the ImageNet VGG16 features bundled in
resources/perceptual/ (so the loss is on out of the box). Only if that file is deleted is the loss off,
with a warning: a random VGG would still produce a loss, just a meaningless one, so it is never used.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Protocol
from pathlib import Path
from urllib.parse import urlparse

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, safe_open
from torch import nn
from torchvision.models import VGG16_Weights, VGG19_Weights
from torchvision.models.vgg import cfgs, make_layers

from engine.errors import ConfigError
from engine.resources import resource_path
from engine.models.safe_load import load_torch_file
from engine.models.export import native_path

VGG_CONFIGS = {"vgg16": cfgs["D"], "vgg19": cfgs["E"]}
HUB_WEIGHTS = {"vgg16": VGG16_Weights.IMAGENET1K_V1, "vgg19": VGG19_Weights.IMAGENET1K_V1}
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
CAFFE_MEAN_BGR = (103.939, 116.779, 123.68)
# Caffe weights see 0-255 input where torchvision's see unit-variance input, so their features are about
# 255 * 0.226 times larger (conv is linear and ReLU homogeneous; only biases break the equality).
# Dividing by it keeps loss weights meaning the same under both conventions (the article's 0.001 on
# MSE of relu4_3 would otherwise weigh ~3300x more with Caffe weights).
FEATURE_SCALE = {"torchvision": 1.0, "caffe": 255.0 * sum(IMAGENET_STD) / 3}
VGG_CONVENTIONS = ("auto", *FEATURE_SCALE)  # auto: the convention a weights file's metadata names
_LAYER_NAME = re.compile(r"^(conv|relu)(\d+)_(\d+)$")
BUNDLED_VGG = resource_path("perceptual", "vgg16-imagenet.safetensors")
# VGG19's extra fourth conv of blocks 3-5 has no VGG16 twin: the block's last conv stands in for it.
VGG19_TO_VGG16 = {f"{kind}{block}_4": f"{kind}{block}_3" for kind in ("conv", "relu") for block in (3, 4, 5)}


class PerceptualSettings(Protocol):
    """The settings this module reads (TrainConfig has them): named here, not imported, because the config
    reads this module's tables for its choices."""

    perceptual_net: str
    perceptual_layers: dict[str, float]
    perceptual_weight: float
    perceptual_criterion: str
    vgg_weights: str
    vgg_convention: str


class VGGWeightsError(ConfigError):
    """Configured VGG weights are missing or do not fit the network."""


def layer_names(features: nn.Sequential) -> list[str]:
    """Name each layer of a VGG feature stack the way the papers do: conv3_4, relu3_4, pool3."""
    names, block, conv = [], 1, 0
    for layer in features:
        if isinstance(layer, nn.Conv2d):
            conv += 1
            names.append(f"conv{block}_{conv}")
        elif isinstance(layer, nn.ReLU):
            names.append(f"relu{block}_{conv}")
        else:
            names.append(f"pool{block}")
            block, conv = block + 1, 0
    return names


def vgg_feature_stack(net: str, width_divisor: int = 1, layers: list[str] | None = None) -> nn.Sequential:
    """torchvision's VGG `features` layout (same `N.weight` keys); a divisor > 1 makes a thin copy for tests.
    With `layers`, only the blocks up to the deepest of them are built (random-initialising all of VGG16
    only to load a few layers over it took most of a run's start-up)."""
    if net not in VGG_CONFIGS:
        raise ConfigError(f"perceptual_net must be one of {', '.join(VGG_CONFIGS)}, not {net!r}")
    cfg = [v if v == "M" else max(1, int(v) // width_divisor) for v in VGG_CONFIGS[net]]
    if layers:
        deepest = max(int(name.removeprefix("relu").removeprefix("conv").split("_")[0]) for name in layers
                      if _LAYER_NAME.match(name))
        block_ends = [i for i, v in enumerate(cfg) if v == "M"]
        cfg = cfg[:block_ends[min(deepest, len(block_ends)) - 1]]
    return make_layers(cfg, batch_norm=False)


class VGGFeatures(nn.Module):
    """The outputs of named layers of a VGG feature stack, truncated after the deepest one asked for.

    Frozen and in eval mode: gradients flow to the input image, never into VGG.
    """

    def __init__(self, features: nn.Sequential, layers: list[str]) -> None:
        super().__init__()
        names = layer_names(features)
        unknown = [name for name in layers if name not in names or not _LAYER_NAME.match(name)]
        if unknown:
            raise ConfigError(f"perceptual_layers: unknown layer(s) {', '.join(unknown)}; "
                              f"known: {', '.join(n for n in names if _LAYER_NAME.match(n))}")
        depth = max(names.index(name) for name in layers) + 1
        self.features = nn.Sequential(*list(features)[:depth])
        for layer in self.features:
            if isinstance(layer, nn.ReLU):
                layer.inplace = False  # an in-place ReLU would overwrite the pre-activation output we keep
        self.taps = {names.index(name): name for name in layers}
        self.requires_grad_(False)
        self.eval()

    def train(self, mode: bool = True) -> VGGFeatures:
        return super().train(False)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        outputs = {}
        for index, layer in enumerate(self.features):
            x = layer(x)
            if index in self.taps:
                outputs[self.taps[index]] = x
        return outputs


def preprocess(x: torch.Tensor, value_range: tuple[float, float], convention: str) -> torch.Tensor:
    """Bring an image batch to what the VGG weights were trained on: 3 channels, then either
    torchvision's RGB [0, 1] normalised by ImageNet mean/std, or Caffe's BGR 0-255 minus the mean."""
    low, high = value_range
    x = (x - low) / (high - low)
    if x.shape[1] == 1:
        x = x.expand(-1, 3, -1, -1)
    if convention == "caffe":
        mean = torch.tensor(CAFFE_MEAN_BGR, device=x.device, dtype=x.dtype).view(1, 3, 1, 1)
        return x.flip(1) * 255.0 - mean
    if convention != "torchvision":
        raise ConfigError(f"vgg_convention must be torchvision or caffe, not {convention!r}")
    mean = torch.tensor(IMAGENET_MEAN, device=x.device, dtype=x.dtype).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD, device=x.device, dtype=x.dtype).view(1, 3, 1, 1)
    return (x - mean) / std


class PerceptualLoss(nn.Module):
    """Weighted sum over layers of the L1/MSE distance between VGG features of SR and HR."""

    def __init__(self, features: VGGFeatures, layer_weights: dict[str, float], criterion: str,
                 convention: str, value_range: tuple[float, float]) -> None:
        super().__init__()
        self.features, self.layer_weights = features, dict(layer_weights)
        self.criterion = nn.L1Loss() if criterion == "l1" else nn.MSELoss()
        self.convention, self.value_range = convention, value_range

    def forward(self, sr: torch.Tensor, hr: torch.Tensor) -> torch.Tensor:
        sr_feats = self.features(preprocess(sr, self.value_range, self.convention))
        with torch.no_grad():
            hr_feats = self.features(preprocess(hr, self.value_range, self.convention))
        scale = FEATURE_SCALE[self.convention]
        return sum(weight * self.criterion(sr_feats[name] / scale, hr_feats[name] / scale)
                   for name, weight in self.layer_weights.items())


# ----------------------------------------------------------------------------- offline weights
def hub_cache_path(net: str) -> Path:
    """Where torchvision would have downloaded these ImageNet weights (we only look, never fetch)."""
    name = Path(urlparse(HUB_WEIGHTS[net].url).path).name
    return Path(torch.hub.get_dir()) / "checkpoints" / name


@dataclass(frozen=True)
class VGGSource:
    """The weights file a run's perceptual loss uses, the network it holds, the layers taken from it and,
    when those differ from what the settings name, a note saying so."""

    path: Path
    net: str
    layers: dict[str, float]
    note: str = ""


def map_to_vgg16(layers: dict[str, float]) -> dict[str, float]:
    """VGG19 layer names as their VGG16 counterparts (weights of layers that meet are added)."""
    mapped: dict[str, float] = {}
    for name, weight in layers.items():
        twin = VGG19_TO_VGG16.get(name, name)
        mapped[twin] = mapped.get(twin, 0.0) + weight
    return mapped


def find_vgg_weights(config: PerceptualSettings) -> VGGSource | None:
    """Which weights the perceptual loss uses: the user's file, else torchvision's cache, else the bundled
    VGG16 (VGG19 layer names mapped onto it); None only when the bundled file was deleted."""
    net, layers = config.perceptual_net, dict(config.perceptual_layers)
    if config.vgg_weights:
        path = Path(config.vgg_weights).expanduser()
        if not path.is_file():
            raise VGGWeightsError(f"vgg_weights: {path} does not exist")
        return VGGSource(path, net, layers)
    if hub_cache_path(net).is_file():
        return VGGSource(hub_cache_path(net), net, layers)
    if not BUNDLED_VGG.is_file():
        return None
    if net == "vgg16":
        return VGGSource(BUNDLED_VGG, "vgg16", layers)
    mapped = map_to_vgg16(layers)
    renamed = ", ".join(f"{a}->{b}" for a, b in VGG19_TO_VGG16.items() if a in layers)
    return VGGSource(BUNDLED_VGG, "vgg16", mapped, f"no VGG19 weights on this machine: the perceptual loss uses the "
                     f"bundled ImageNet VGG16 ({renamed or 'same layer names'})")


def _read_state_dict(path: Path) -> tuple[dict[str, torch.Tensor], str | None]:
    """The tensors of a weights file and the convention its metadata declares, if any."""
    if path.suffix == ".safetensors":
        try:
            with native_path(path) as readable:
                with safe_open(readable, framework="pt") as handle:
                    convention = (handle.metadata() or {}).get("convention")
                return load_file(readable), convention
        except (OSError, SafetensorError, ValueError) as exc:
            raise VGGWeightsError(f"vgg_weights: {path.name} is not a readable .safetensors file ({exc})") from None
    state = load_torch_file(path, "VGG weights file", VGGWeightsError)
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise VGGWeightsError(f"vgg_weights: {path.name} does not hold a VGG state dict")
    return state, None


def load_vgg_weights(features: nn.Sequential, path: Path) -> str | None:
    """Load a VGG state dict (`features.N.weight` or `N.weight` keys, any float dtype) into the truncated
    stack. Returns the convention stored in the file's metadata, if any."""
    state, convention = _read_state_dict(path)
    wanted = features.state_dict().keys()
    stripped = {key.removeprefix("features."): value for key, value in state.items()}
    picked = {key: stripped[key] for key in wanted if key in stripped}
    missing = [key for key in wanted if key not in stripped]
    if missing:
        raise VGGWeightsError(f"vgg_weights: {path.name} does not match the VGG layout (missing {missing[0]}, ...)")
    try:
        features.load_state_dict(picked)
    except RuntimeError as exc:
        raise VGGWeightsError(f"vgg_weights: {path.name} does not match the VGG layers ({exc})") from None
    return convention


def build_perceptual_loss(config: PerceptualSettings, value_range: tuple[float, float],
                          feature_net: nn.Sequential | None = None) -> tuple[PerceptualLoss | None, str]:
    """The configured perceptual loss (None when it is off or no VGG weights are on this machine) and a
    note on what it uses when that differs from the settings.

    `feature_net` (a VGG-layout feature stack, e.g. a thin one in tests) replaces any weights file.
    """
    if config.perceptual_weight <= 0:
        return None, ""
    if feature_net is not None:
        features, convention, layers, note = VGGFeatures(feature_net, list(config.perceptual_layers)), \
            "torchvision", config.perceptual_layers, ""
    else:
        source = find_vgg_weights(config)
        if source is None:
            return None, ""
        features = VGGFeatures(vgg_feature_stack(source.net, layers=list(source.layers)), list(source.layers))
        stored = load_vgg_weights(features.features, source.path)
        convention = config.vgg_convention if config.vgg_convention != "auto" else (stored or "torchvision")
        layers, note = source.layers, source.note
    weights = {name: weight * config.perceptual_weight for name, weight in layers.items()}
    return PerceptualLoss(features, weights, config.perceptual_criterion, convention, value_range), note


def missing_weights_message(config: PerceptualSettings) -> str:
    return (f"perceptual loss off: the bundled VGG16 features ({BUNDLED_VGG}) are missing and no "
            f"{config.perceptual_net} weights are in torch's cache ({hub_cache_path(config.perceptual_net)}); "
            f"reinstall the app or set vgg_weights to a weights file")
