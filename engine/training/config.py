"""The training configuration: one typed, validated dataclass. A preset is just a config.

The window edits it, the command line parses it (`--set name=value` reaches every field), and
checkpoints and exported models store it as a plain dict.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from engine.archs import discriminators
from engine.archs.table import ARCHITECTURES, GENERATORS, MAX_BLOCKS, MAX_FEATURES, SCALES
from engine.data.degradations import (DEGRADATIONS, MEDIUM, DegradationError, RealisticDegradation, parse_parameter,
                                      realistic_from)
from engine.data.sizes import min_hr_side
from engine.device import DEVICE_CHOICES, PRECISIONS
from engine.errors import ConfigError
from engine.training import losses, perceptual

LR_SCHEDULES = ("constant", "cosine", "step")
# Each setting with a fixed set of values, and the values: the names of the tables that implement them
# where there is one. Validation, the command line's help and the window's combo boxes all read this.
CHOICES: dict[str, tuple[Any, ...]] = {
    "scale": SCALES, "channels": (3, 1), "generator": GENERATORS, "discriminator": tuple(discriminators.DISCRIMINATORS),
    "adversarial_loss": tuple(losses.ADVERSARIAL_LOSSES), "precision": PRECISIONS, "lr_schedule": LR_SCHEDULES,
    "pixel_loss": tuple(losses.PIXEL_LOSSES), "perceptual_criterion": tuple(losses.PIXEL_LOSSES),
    "perceptual_net": tuple(perceptual.VGG_CONFIGS), "vgg_convention": perceptual.VGG_CONVENTIONS,
    "device": DEVICE_CHOICES, "degradation": DEGRADATIONS,
}
MAX_BATCH, MAX_PATCH = 1024, 2048  # sanity bounds: far above what fits a GPU, far below an allocator's refusal
# The GAN phase's (batch size, HR patch) when left on auto (0), by device type, chosen by measurement
# (bench/train_speed.py): on a 2-core CPU a step of 8 x 64 px takes well under a second, so curves move
# and Stop answers at once; GPUs are fed larger crops.
AUTO_SHAPES = {"cpu": (8, 64), "mps": (8, 96), "cuda": (16, 128)}
MAX_VAL_SECONDS = 3600  # val_seconds beyond an hour would never come before the steps' own validations
# init_generator's value for "the bundled pixel model of this run's scale" (faithful-x2 / faithful-x4).
BUNDLED_INIT = "bundled"


def setting(default: Any = dataclasses.MISSING, doc: str = "", label: str = "",
            factory: Callable[[], Any] | None = None) -> Any:
    """A TrainConfig field with its one description (`doc`: the window's tooltip, `train --help`) and the
    window's label where the name reads badly (else the name, capitalised)."""
    metadata = {"help": doc, "label": label}
    if factory is not None:
        return field(default_factory=factory, metadata=metadata)
    return field(default=default, metadata=metadata)


@dataclass
class TrainConfig:
    """Every setting of a training run. The defaults are the `default` preset: a GAN fine-tuned from the
    bundled pixel model, so the discriminator and the perceptual loss work from the first step, at a crop
    size that keeps a step under a second on a 2-core CPU."""

    preset: str = setting("default", "The recipe these settings started from (the window's preset list describes each)")
    data_dir: str = setting("", "Folder of training images, searched recursively (or a folder holding hr/ and lr/ "
                                "pairs)", "Training images")
    val_dir: str = setting("", "Validation images; empty = hold out val_count images of the training folder",
                           "Validation folder")
    lr_dir: str = setting("", "Real low-resolution versions of the training images, named as they are, each exactly "
                              "scale times smaller; empty = made from them by the degradation "
                              "(a folder holding hr/ and lr/ needs none)", "LR partners")
    out_dir: str = setting("runs/default", "The run folder: checkpoint, exports and samples")
    scale: int = setting(4, "Upscaling factor")
    channels: int = setting(3, "3 = RGB, 1 = grayscale (the luma, Y)")
    hr_patch: int = setting(0, "HR crop size in pixels (the LR crop is hr_patch / scale); 0 = chosen for the device",
                            "HR patch size")
    batch_size: int = setting(0, "Crops per step; 0 = chosen for the device", "Batch size")
    augment: bool = setting(True, "Random flips and 90-degree rotations of the crops")
    antialias: bool = setting(True, "Antialiased bicubic LR (the article's recipe shrinks without antialiasing)")
    degradation: str = setting("bicubic", "How low-res inputs are made: bicubic = clean downscaling (benchmarks, PSNR "
                                          "models); realistic = blur, resize, noise and JPEG as real photos have them")
    realistic: RealisticDegradation = setting(MEDIUM, "The realistic degradation's strength (light, medium, strong) "
                                                      "or its parameters one by one (realistic.NAME=VALUE)", "Strength")

    generator: str = setting("compact", "The generator's architecture")
    gen_features: int = setting(32, "The generator's width: " + "; ".join(
        f"{name}: {arch.features}" for name, arch in ARCHITECTURES.items()), "G features")
    gen_blocks: int = setting(12, "The generator's depth: " + "; ".join(
        f"{name}: {arch.blocks}" for name, arch in ARCHITECTURES.items()), "G blocks")
    # ESRGAN starts its GAN from its PSNR model; the bundled pixel models play that part here.
    init_generator: str = setting(BUNDLED_INIT, 'The generator\'s starting weights: "bundled" = the bundled pixel '
                                                "model of this scale; or a model file or checkpoint (its architecture "
                                                "is adopted); empty = random", "Start G from")
    discriminator: str = setting("unet", "The discriminator's architecture")
    disc_features: int = setting(16, "The discriminator's width (features of its first layer)", "D features")
    spectral_norm: bool = setting(True, "Spectral normalisation of the discriminator's layers")
    minibatch_stddev: bool = setting(False, "Give the discriminator the batch's standard deviation as a feature "
                                            "(against mode collapse)", "Minibatch stddev")

    steps: int = setting(3000, "Total optimisation steps, both phases", "Total steps")
    pretrain_steps: int = setting(0, "Steps of pixel loss alone before the GAN (the bundled init model already had "
                                     "them)", "Pretrain steps")
    lr_g: float = setting(1e-4, "The generator's learning rate", "Generator LR")
    lr_d: float = setting(1e-4, "The discriminator's learning rate", "Discriminator LR")
    beta1: float = setting(0.9, "Adam's beta1 (momentum) for both networks")
    beta2: float = setting(0.99, "Adam's beta2 for both networks")
    lr_schedule: str = setting("cosine", "How the learning rates fall within each phase: constant, cosine, or halved "
                                         "at 50% and 75% (step)", "LR schedule")
    grad_clip: float = setting(0.0, "Largest gradient norm; 0 = no clipping", "Gradient clip")
    ema_decay: float = setting(0.995, "Decay of the generator's moving average, which validation and exports use; "
                                      "0 = no EMA", "EMA decay")

    pixel_loss: str = setting("l1", "How outputs are compared with the originals pixel by pixel")
    pixel_weight: float = setting(1.0, "Weight of the pixel loss", "Pixel loss weight")
    perceptual_net: str = setting("vgg16", "The VGG whose features the perceptual loss compares", "Perceptual network")
    # Real-ESRGAN's weights up to conv3_3: on a CPU the VGG passes are most of a GAN step and blocks 4-5
    # would cost half of them again (bench/train_speed.py), for features of a 64-px crop's 8x8 corners.
    perceptual_layers: dict[str, float] = setting(
        doc="Layer -> weight: convX_Y is taken before its ReLU (ESRGAN), reluX_Y after it (SRGAN)",
        label="Perceptual layers", factory=lambda: {"conv1_2": 0.1, "conv2_2": 0.1, "conv3_3": 1.0})
    perceptual_weight: float = setting(1.0, "Weight of the perceptual (VGG feature) loss; 0 = off", "Perceptual weight")
    perceptual_criterion: str = setting("l1", "How feature maps are compared: l1 (ESRGAN) or mse (SRGAN)",
                                        "Perceptual loss")
    vgg_weights: str = setting("", "A local VGG weights file (.pth or .safetensors); empty = torchvision's hub cache "
                                   "if it has them, else the bundled VGG16", "VGG weights file")
    vgg_convention: str = setting("auto", "Input convention of the VGG weights; auto = from the file's metadata",
                                  "VGG convention")
    adversarial_loss: str = setting("relativistic", "The GAN's loss", "Adversarial loss")
    adversarial_weight: float = setting(0.1, "Weight of the generator's adversarial loss", "Adversarial weight")
    gp_weight: float = setting(10.0, "Gradient penalty weight (wgan-gp only)", "GP weight")

    precision: str = setting("fp32", "Arithmetic precision; bf16 and fp16 apply on CUDA only")
    channels_last: bool = setting(True, "channels_last memory layout (CUDA only)")
    device: str = setting("auto", "Where to train; auto = CUDA or Apple MPS when present, else the CPU")
    workers: int = setting(-1, "DataLoader workers; -1 = chosen for the machine")
    seed: int = setting(0, "The seed crops, degradations and initial weights are drawn from")

    val_count: int = setting(8, "Images held out (deterministically) for validation", "Validation images")
    val_every: int = setting(100, "Steps between validations (also at step 1, so a run shows where it starts within "
                                  "seconds)", "Validate every")
    val_seconds: float = setting(20.0, "Also validate once this many seconds of training have passed since the last "
                                       "validation, the wait doubling after each such one (20, 40, 80 s...): on a "
                                       "CPU 100 steps take minutes, and the curves and previews must move within the "
                                       "first one. 0 = by steps only", "Also after (s)")
    checkpoint_every: int = setting(100, "Steps between checkpoints", "Checkpoint every")
    log_every: int = setting(1, "Steps between progress reports")
    sample_every: int = setting(0, "Also save a figure of fixed LR inputs and outputs every N steps; 0 = off")
    log_tensorboard: bool = setting(False, "Also write TensorBoard event files to RUN/tensorboard (needs the "
                                           "tensorboard package)")

    def __post_init__(self) -> None:
        # stored configs hold a dict (JSON, checkpoints), people a strength name: both become parameters
        self.realistic = _nested(realistic_from, self.realistic)
        self.validate()

    # ------------------------------------------------------------------ validation
    def validate(self) -> None:
        """Raise ConfigError naming the first bad setting."""
        if self.lr_dir and os.path.normpath(self.lr_dir) == os.path.normpath(self.data_dir):
            raise ConfigError("lr_dir must be another folder than data_dir (the LR partners of its images)")
        if self.channels not in CHOICES["channels"]:
            raise ConfigError(f"channels must be 1 (grayscale) or 3 (RGB), not {self.channels}")
        for name, allowed in CHOICES.items():
            if getattr(self, name) not in allowed:
                raise ConfigError(f"{name} must be one of {', '.join(map(str, allowed))}, "
                                  f"not {getattr(self, name)!r}")
        arch = ARCHITECTURES[self.generator]
        if self.scale not in arch.scales:
            raise ConfigError(f"the {self.generator} generator upscales x{' or x'.join(map(str, arch.scales))}, "
                              f"not x{self.scale}")
        if self.channels not in arch.channels:
            raise ConfigError(f"the {self.generator} generator takes {' or '.join(map(str, arch.channels))} "
                              f"channel(s), not {self.channels}")
        if self.hr_patch and (self.hr_patch < min_hr_side(self.scale) or self.hr_patch % self.scale):
            raise ConfigError(f"hr_patch must be 0 (auto) or a multiple of scale ({self.scale}) and at least "
                              f"{min_hr_side(self.scale)}, not {self.hr_patch}")
        for name in dataclasses.fields(self):
            value = getattr(self, name.name)
            if isinstance(value, float) and not math.isfinite(value):
                raise ConfigError(f"{name.name} must be a finite number, not {value}")
        for layer, weight in self.perceptual_layers.items():
            if not math.isfinite(weight) or weight < 0:
                raise ConfigError(f"perceptual_layers: the weight of {layer} must be a finite number >= 0")
        if self.batch_size < 0:
            raise ConfigError(f"batch_size must be 0 (auto) or a count, not {self.batch_size}")
        positive = ("gen_features", "disc_features", "steps", "val_every", "checkpoint_every",
                    "log_every", "val_count")
        for name in positive:
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be at least 1, not {getattr(self, name)}")
        non_negative = ("gen_blocks", "pretrain_steps", "grad_clip", "pixel_weight", "perceptual_weight",
                        "adversarial_weight", "gp_weight", "sample_every")
        for name in non_negative:
            if getattr(self, name) < 0:
                raise ConfigError(f"{name} must not be negative, not {getattr(self, name)}")
        if self.val_seconds and not 1 <= self.val_seconds <= MAX_VAL_SECONDS:
            raise ConfigError(f"val_seconds must be 0 (validate by steps only) or between 1 and {MAX_VAL_SECONDS} "
                              f"seconds, not {self.val_seconds:g}")
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
        for name, most in (("gen_features", MAX_FEATURES), ("disc_features", MAX_FEATURES),
                           ("gen_blocks", MAX_BLOCKS), ("batch_size", MAX_BATCH), ("hr_patch", MAX_PATCH)):
            if getattr(self, name) > most:
                raise ConfigError(f"{name} must be at most {most}, not {getattr(self, name)}")

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
        """A validated copy with some fields changed; a dict for `realistic` changes only the parameters
        it names."""
        current = self.to_dict()
        if isinstance(changes.get("realistic"), dict):
            changes = {**changes, "realistic": {**current["realistic"], **changes["realistic"]}}
        return TrainConfig.from_dict({**current, **changes})

    def for_device(self, device_type: str) -> TrainConfig:
        """This config with the automatic (0) batch size and patch filled in for a device type; a run
        stores the result, so resuming on another machine keeps the shape it started with."""
        batch, patch = AUTO_SHAPES.get(device_type, AUTO_SHAPES["cpu"])
        return self.replace(batch_size=self.batch_size or batch, hr_patch=self.hr_patch or patch)

    def phase_at(self, step: int) -> str:
        """The phase of the update that follows `step` finished ones: "pretrain" (pixel loss alone) for the
        first pretrain_steps updates, then "gan". The one place this boundary is drawn."""
        return "pretrain" if step < self.pretrain_steps else "gan"

    def phase_steps(self) -> dict[str, int]:
        """How many updates each phase trains, in the order they come."""
        return {"pretrain": self.pretrain_steps, "gan": self.steps - self.pretrain_steps}

    def init_source(self) -> str:
        """What init_generator names, with "bundled" turned into the bundled model of this scale."""
        return f"faithful-x{self.scale}" if self.init_generator == BUNDLED_INIT else self.init_generator


SETTINGS: dict[str, dataclasses.Field[Any]] = {item.name: item for item in dataclasses.fields(TrainConfig)}


def setting_help(name: str) -> str:
    """What a setting does, in one line: the window's tooltip and `train --help` both read it."""
    return SETTINGS[name].metadata["help"]


def setting_label(name: str) -> str:
    """A setting's name as the window's form shows it."""
    return SETTINGS[name].metadata["label"] or name.replace("_", " ").capitalize()


def parse_assignments(assignments: list[str]) -> dict[str, Any]:
    """`name=value` strings parsed by each field's type, unvalidated, so callers can combine them with
    other changes before one validation (e.g. --steps with --set pretrain_steps=...).
    `realistic.PARAMETER=value` sets one degradation parameter (a dict that replace() merges)."""
    changes: dict[str, Any] = {}
    hints = typing.get_type_hints(TrainConfig)
    for item in assignments:
        name, sep, text = item.partition("=")
        name, dot, parameter = name.strip().replace("-", "_").partition(".")
        if not sep or name not in hints or (dot and name != "realistic"):
            raise ConfigError(f"expected name=value with a known setting name, got {item!r}")
        if dot:
            earlier = changes.get(name, {})
            earlier = dataclasses.asdict(earlier) if isinstance(earlier, RealisticDegradation) else earlier
            changes[name] = {**earlier, parameter: _nested(parse_parameter, parameter, text.strip())}
        else:
            changes[name] = parse_value(hints[name], text.strip(), name)
    return changes


def _nested(parse: Any, *args: Any) -> Any:
    """`parse(*args)` with a bad degradation parameter reported as the ConfigError it is."""
    try:
        return parse(*args)
    except DegradationError as exc:
        raise ConfigError(str(exc)) from None


def parse_value(hint: Any, text: str, name: str) -> Any:
    """Parse one setting's text by its annotated type."""
    if hint is RealisticDegradation:  # a strength name or a JSON object of parameters
        return _nested(realistic_from, text)
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
    Adam 2e-4 (0.5, 0.999), batch 4, no pixel pretraining, no EMA, no augmentation, random init."""
    base = TrainConfig(
        preset="classic", out_dir="runs/classic", channels=1, hr_patch=128, batch_size=4, augment=False,
        antialias=False, generator="classic", init_generator="", discriminator="classic", disc_features=64,
        spectral_norm=False, minibatch_stddev=False, steps=6000, pretrain_steps=0, lr_g=2e-4, lr_d=2e-4, beta1=0.5,
        beta2=0.999, lr_schedule="constant", grad_clip=0.0, ema_decay=0.0, pixel_loss="mse", pixel_weight=0.006,
        perceptual_net="vgg16", perceptual_layers={"relu4_3": 1.0}, perceptual_weight=0.001,
        perceptual_criterion="mse", adversarial_loss="bce", adversarial_weight=1.0, val_every=250,
        checkpoint_every=250,
    )
    return base.replace(**changes) if changes else base


def classic_init_preset(**changes: Any) -> TrainConfig:
    """The article's networks and losses, with the generator first trained 500 steps on pixel loss alone,
    as the SRGAN paper initialised its GAN from SRResNet: the samples stop being flat far sooner."""
    return classic_preset(**{"preset": "classic-init", "out_dir": "runs/classic-init", "pretrain_steps": 500,
                             **changes})


def default_preset(**changes: Any) -> TrainConfig:
    """GAN from the first step: the bundled pixel model of the chosen scale fine-tuned with a relativistic
    GAN, a light spectral-norm U-Net discriminator and ESRGAN-style pre-activation VGG16 features; EMA of G."""
    return TrainConfig(**changes)


def scratch_preset(**changes: Any) -> TrainConfig:
    """The default recipe from random weights: L1 pixel pretraining, then the GAN (ESRGAN's PSNR-then-GAN)."""
    return TrainConfig(**{"preset": "scratch", "out_dir": "runs/scratch", "init_generator": "", "steps": 6000,
                          "pretrain_steps": 3000, "lr_g": 2e-4, "ema_decay": 0.999, "val_every": 250,
                          "checkpoint_every": 250, **changes})


def finetune_photo_preset(**changes: Any) -> TrainConfig:
    """Real-ESRGAN's x4plus (ESRGAN, 23 RRDB blocks) fine-tuned on your photos with realistic degradation
    at GPU crop sizes: Real-ESRGAN's own recipe, continued from its published weights."""
    return TrainConfig(**{"preset": "finetune-photo", "out_dir": "runs/finetune-photo", "generator": "esrgan",
                          "gen_features": 64, "gen_blocks": 23, "scale": 4,
                          "init_generator": "realesrgan-x4plus",
                          "degradation": "realistic", "batch_size": 8, "hr_patch": 256, "lr_g": 1e-4,
                          "ema_decay": 0.999, "steps": 4000, "val_every": 250, "checkpoint_every": 250, **changes})


def span_scratch_preset(**changes: Any) -> TrainConfig:
    """SPAN from random weights: the scratch recipe (pixel pretraining, then the GAN) on SPAN."""
    return scratch_preset(**{"preset": "span-scratch", "out_dir": "runs/span-scratch", "generator": "span",
                             "gen_features": 48, **changes})


@dataclass(frozen=True)
class Preset:
    """A named recipe: the function that builds its config and the one line the window and --help show."""

    name: str
    build: Callable[..., TrainConfig]
    description: str


PRESETS: dict[str, Preset] = {item.name: item for item in (
    Preset("default", default_preset, "GAN from the first step: fine-tunes the bundled pixel model (recommended)"),
    Preset("scratch", scratch_preset, "the default recipe from random weights: pixel pretraining, then the GAN"),
    Preset("classic", classic_preset,
           "the original article's SRGAN, exactly (slow on CPUs: its generator works at full resolution)"),
    Preset("classic-init", classic_init_preset,
           "the article's SRGAN with its generator first trained on pixel loss (as in the SRGAN paper)"),
    Preset("finetune-photo", finetune_photo_preset,
           "Real-ESRGAN x4plus fine-tuned on your photos (realistic degradation, batch 8 of 256 px): needs a GPU; "
           "a 2-core CPU takes about 1 s per step even at batch 1 of 64 px"),
    Preset("span-scratch", span_scratch_preset,
           "SPAN from random weights: pixel pretraining, then the GAN (about 7x the default's generator cost)"),
)}


def preset(name: str, **changes: Any) -> TrainConfig:
    if name not in PRESETS:
        raise ConfigError(f"preset must be one of {', '.join(PRESETS)}, not {name!r}")
    return PRESETS[name].build(**changes)
