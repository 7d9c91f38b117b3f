"""PSNR/SSIM of a generator and of bicubic over a folder of high-resolution images, as SR papers score
them (Y channel, `scale`-pixel border). Used by `python -m engine eval` and by the script that ships
models with their held-out figures in the metadata."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from engine.checkpoint import load_generator_from_checkpoint
from engine.config import ConfigError
from engine.data import (DataError, crop_to_multiple, downscale, list_images, load_image, to_tensor, to_uint8,
                         upscale_bicubic)
from engine.export import load_generator
from engine.metrics import psnr_y, ssim_y


@dataclass(frozen=True)
class EvalModel:
    module: torch.nn.Module
    value_range: tuple[float, float]
    scale: int
    antialias: bool  # how its training LR was made, so evaluation degrades images the same way


@dataclass(frozen=True)
class ImageScore:
    name: str
    psnr: float
    ssim: float
    bicubic_psnr: float
    bicubic_ssim: float


def load_eval_model(path: str | Path, scale: int | None = None) -> EvalModel:
    """An exported .safetensors or a checkpoint.pt; `scale`, when given, must be the model's."""
    if Path(path).suffix == ".safetensors":
        module, meta = load_generator(path)
        config = meta.get("config") if isinstance(meta.get("config"), dict) else {}
        model = EvalModel(module, tuple(meta["value_range"]), int(meta["scale"]), bool(config.get("antialias", True)))
    else:
        module, info = load_generator_from_checkpoint(path)
        model = EvalModel(module, info["value_range"], int(info["spec"]["scale"]),
                          bool(info["config"].get("antialias", True)))
    if scale and scale != model.scale:
        raise ConfigError(f"--scale {scale} does not match the model's x{model.scale}")
    return model


@torch.inference_mode()
def super_resolve(model: EvalModel, lr: torch.Tensor) -> np.ndarray:
    low, high = model.value_range
    return to_uint8((model.module(lr * (high - low) + low) - low) / (high - low))


def score_folder(model: EvalModel, folder: str | Path) -> Iterator[ImageScore | str]:
    """One ImageScore per usable image, or a warning string naming a skipped one."""
    paths = list_images(folder)
    if not paths:
        raise DataError(f"no readable images in {folder}")
    scale, channels = model.scale, model.module.in_channels
    for path in paths:
        try:
            image = load_image(path, channels)
        except (OSError, ValueError) as exc:
            yield f"skipped {path.name}: not a readable image ({exc.__class__.__name__})"
            continue
        hr = crop_to_multiple(image, scale)
        if min(hr.shape[:2]) < 8 * scale:
            yield f"skipped {path.name}: too small"
            continue
        lr = downscale(to_tensor(hr), scale, model.antialias)
        sr, bicubic = super_resolve(model, lr), to_uint8(upscale_bicubic(lr, scale))
        yield ImageScore(path.name, psnr_y(sr, hr, scale), ssim_y(sr, hr, scale), psnr_y(bicubic, hr, scale),
                         ssim_y(bicubic, hr, scale))


def mean_score(scores: list[ImageScore]) -> ImageScore:
    values = np.mean([[s.psnr, s.ssim, s.bicubic_psnr, s.bicubic_ssim] for s in scores], axis=0)
    return ImageScore(f"mean of {len(scores)}", *(float(v) for v in values))
