"""The training configuration: one typed, validated dataclass. A preset is just a config.

The window edits it, the command line parses it (`--set name=value` reaches every field), and
checkpoints and exported models store it as a plain dict.
"""

from __future__ import annotations

import dataclasses
import json
import typing
from dataclasses import dataclass, field
from typing import Any

ADVERSARIAL_LOSSES = ("bce", "lsgan", "wgan-gp", "hinge", "relativistic")
GENERATORS = ("compact", "classic")
DISCRIMINATORS = ("vgg", "unet", "classic")
PRECISIONS = ("fp32", "bf16", "fp16")
LR_SCHEDULES = ("constant", "cosine", "step")
PIXEL_LOSSES = ("l1", "mse")
PERCEPTUAL_NETS = ("vgg16", "vgg19")
VGG_CONVENTIONS = ("auto", "torchvision", "caffe")
DEVICES = ("auto", "cpu", "cuda", "mps")


class ConfigError(ValueError):
    """A setting is out of range or unknown; the message names it."""


@dataclass
class TrainConfig:
    """Every setting of a training run, with defaults that train usefully on a 2-core CPU."""

    preset: str = "default"
    data_dir: str = ""
    val_dir: str = ""  # validation images; empty = hold out val_count images of data_dir
    out_dir: str = "runs/default"
    scale: int = 4
    channels: int = 3  # 3 = RGB, 1 = grayscale (Y)
    hr_patch: int = 128  # HR crop size; LR is hr_patch // scale
    batch_size: int = 16
    augment: bool = True  # random flips and 90-degree rotations
    antialias: bool = True  # antialiased bicubic LR (the article's recipe does a plain bicubic)

    generator: str = "compact"
    gen_features: int = 32
    gen_blocks: int = 12
    # Start G (and its EMA) from these weights: an export or a checkpoint of a pixel-loss run, as ESRGAN
    # starts its GAN from its PSNR model. Empty = random initialisation.
    init_generator: str = ""
    discriminator: str = "unet"
    disc_features: int = 32
    spectral_norm: bool = True
    minibatch_stddev: bool = False

    steps: int = 6000  # total optimisation steps, both phases
    pretrain_steps: int = 3000  # phase 1: pixel loss only
    lr_g: float = 2e-4
    lr_d: float = 1e-4
    beta1: float = 0.9
    beta2: float = 0.99
    lr_schedule: str = "cosine"
    grad_clip: float = 0.0  # max grad norm; 0 = off
    ema_decay: float = 0.999  # 0 = no EMA

    pixel_loss: str = "l1"
    pixel_weight: float = 1.0
    perceptual_net: str = "vgg19"
    # layer name -> weight; "convX_Y" is taken before its ReLU (ESRGAN), "reluX_Y" after it (SRGAN).
    perceptual_layers: dict[str, float] = field(
        default_factory=lambda: {"conv1_2": 0.1, "conv2_2": 0.1, "conv3_4": 1.0, "conv4_4": 1.0, "conv5_4": 1.0})
    perceptual_weight: float = 1.0  # 0 = off
    perceptual_criterion: str = "l1"  # l1 (ESRGAN) or mse (SRGAN)
    vgg_weights: str = ""  # a local weights file; empty = torchvision's hub cache if it has them
    vgg_convention: str = "auto"  # input convention of the weights; auto = from the file's metadata
    adversarial_loss: str = "relativistic"
    adversarial_weight: float = 0.1
    gp_weight: float = 10.0  # wgan-gp only

    precision: str = "fp32"  # bf16/fp16 apply on CUDA only
    channels_last: bool = True  # CUDA only
    device: str = "auto"
    workers: int = -1  # DataLoader workers; -1 = choose from the machine
    seed: int = 0

    val_count: int = 8  # images held out (deterministically) for validation
    val_every: int = 250
    checkpoint_every: int = 500
    log_every: int = 1
    sample_every: int = 0  # also save a figure of fixed LR inputs/outputs every N steps; 0 = off

    def __post_init__(self) -> None:
        self.validate()

    # ------------------------------------------------------------------ validation
    def validate(self) -> None:
        """Raise ConfigError naming the first bad setting."""
        choices = {
            "generator": GENERATORS, "discriminator": DISCRIMINATORS, "adversarial_loss": ADVERSARIAL_LOSSES,
            "precision": PRECISIONS, "lr_schedule": LR_SCHEDULES, "pixel_loss": PIXEL_LOSSES,
            "perceptual_criterion": PIXEL_LOSSES, "perceptual_net": PERCEPTUAL_NETS,
            "vgg_convention": VGG_CONVENTIONS, "device": DEVICES,
        }
        for name, allowed in choices.items():
            if getattr(self, name) not in allowed:
                raise ConfigError(f"{name} must be one of {', '.join(allowed)}, not {getattr(self, name)!r}")
        if self.scale not in (2, 4):
            raise ConfigError(f"scale must be 2 or 4, not {self.scale}")
        if self.channels not in (1, 3):
            raise ConfigError(f"channels must be 1 (grayscale) or 3 (RGB), not {self.channels}")
        if self.hr_patch < 8 * self.scale or self.hr_patch % self.scale:
            raise ConfigError(f"hr_patch must be a multiple of scale ({self.scale}) and at least {8 * self.scale}")
        positive = ("batch_size", "gen_features", "disc_features", "steps", "val_every", "checkpoint_every",
                    "log_every", "val_count")
        for name in positive:
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be at least 1, not {getattr(self, name)}")
        non_negative = ("gen_blocks", "pretrain_steps", "grad_clip", "pixel_weight", "perceptual_weight",
                        "adversarial_weight", "gp_weight", "sample_every")
        for name in non_negative:
            if getattr(self, name) < 0:
                raise ConfigError(f"{name} must not be negative, not {getattr(self, name)}")
        if self.pretrain_steps > self.steps:
            raise ConfigError(f"pretrain_steps ({self.pretrain_steps}) must not exceed steps ({self.steps})")
        for name in ("lr_g", "lr_d"):
            if not 0 < getattr(self, name) < 1:
                raise ConfigError(f"{name} must be between 0 and 1, not {getattr(self, name)}")
        for name in ("beta1", "beta2", "ema_decay"):
            if not 0 <= getattr(self, name) < 1:
                raise ConfigError(f"{name} must be in [0, 1), not {getattr(self, name)}")
        if not self.perceptual_layers and self.perceptual_weight > 0:
            raise ConfigError("perceptual_layers is empty but perceptual_weight is above 0")
        if self.workers < -1:
            raise ConfigError("workers must be -1 (auto) or a count")

    # ------------------------------------------------------------------ (de)serialisation
    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        """Build from a stored dict; unknown keys are refused so a typo is never silently ignored."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise ConfigError(f"unknown setting(s): {', '.join(unknown)}")
        return cls(**data)

    def replace(self, **changes: Any) -> TrainConfig:
        """A validated copy with some fields changed."""
        return TrainConfig.from_dict({**self.to_dict(), **changes})

    def with_overrides(self, assignments: list[str]) -> TrainConfig:
        """Apply `name=value` strings (from the command line), parsed by each field's type."""
        return self.replace(**parse_assignments(assignments))


def parse_assignments(assignments: list[str]) -> dict[str, Any]:
    """`name=value` strings parsed by each field's type, unvalidated, so callers can combine them with
    other changes before one validation (e.g. --steps with --set pretrain_steps=...)."""
    changes: dict[str, Any] = {}
    hints = typing.get_type_hints(TrainConfig)
    for item in assignments:
        name, sep, text = item.partition("=")
        name = name.strip().replace("-", "_")
        if not sep or name not in hints:
            raise ConfigError(f"expected name=value with a known setting name, got {item!r}")
        changes[name] = parse_value(hints[name], text.strip(), name)
    return changes


def parse_value(hint: Any, text: str, name: str) -> Any:
    """Parse one setting's text by its annotated type."""
    try:
        if hint is bool:
            lowered = text.lower()
            if lowered in ("1", "true", "yes", "on"):
                return True
            if lowered in ("0", "false", "no", "off"):
                return False
            raise ValueError(text)
        if hint is int:
            return int(text)
        if hint is float:
            return float(text)
        if hint is str:
            return text
        value = json.loads(text)  # dicts such as perceptual_layers
        if not isinstance(value, dict):
            raise ValueError(text)
        return {str(k): float(v) for k, v in value.items()}
    except (ValueError, TypeError, json.JSONDecodeError):
        raise ConfigError(f"bad value for {name}: {text!r}") from None


def classic_preset(**changes: Any) -> TrainConfig:
    """The source article's SRGAN, exactly: grayscale 128->32 crops, BN nets, BCE, VGG16 relu4_3,
    Adam 2e-4 (0.5, 0.999), batch 4, no pixel pretraining, no EMA, no augmentation."""
    base = TrainConfig(
        preset="classic", out_dir="runs/classic", channels=1, hr_patch=128, batch_size=4, augment=False,
        antialias=False, generator="classic", discriminator="classic", spectral_norm=False,
        minibatch_stddev=False, steps=6000, pretrain_steps=0, lr_g=2e-4, lr_d=2e-4, beta1=0.5, beta2=0.999,
        lr_schedule="constant", grad_clip=0.0, ema_decay=0.0, pixel_loss="mse", pixel_weight=0.006,
        perceptual_net="vgg16", perceptual_layers={"relu4_3": 1.0}, perceptual_weight=0.001,
        perceptual_criterion="mse", adversarial_loss="bce", adversarial_weight=1.0,
    )
    return base.replace(**changes) if changes else base


def default_preset(**changes: Any) -> TrainConfig:
    """Modern recipe sized for a CPU: Compact generator, L1 pretraining, then a relativistic GAN with
    a spectral-norm U-Net discriminator and ESRGAN's pre-activation VGG19 loss; EMA of G."""
    return TrainConfig(**changes)


PRESETS = {"default": default_preset, "classic": classic_preset}


def preset(name: str, **changes: Any) -> TrainConfig:
    if name not in PRESETS:
        raise ConfigError(f"preset must be one of {', '.join(PRESETS)}, not {name!r}")
    return PRESETS[name](**changes)
