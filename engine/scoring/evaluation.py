"""How SR papers score a model, kept in one place so that `python -m engine eval`, the script that ships
models, `bench/quality.py` and the bundled-model tests give numbers that compare with each other and
with published tables.

The protocol: HR is the image's centred crop (at most `max_side`, sides a multiple of the scale); LR is
HR shrunk by Pillow's antialiased bicubic (the kernel of MATLAB's imresize, which made the published
Set5/Set14 inputs) and kept as 8 bits; the baseline enlarges LR with the same bicubic; PSNR and SSIM
are taken on Y with a `scale`-pixel border. The trainer's live validation instead degrades images as
its own config trains them, since it watches the run rather than ranking models.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from engine.errors import ConfigError, DataError
from engine.data.sizes import min_hr_side
from engine.data.dataset import center_crop, list_images
from engine.io.images import ImageReadError, read_pixels, resize
from engine.scoring.metrics import psnr_y, ssim_y
from engine.models.registry import load_model
from engine.upscaling.upscaler import Upscaler

# LR uint8 HxWxC -> SR uint8 (scale*H)x(scale*W)xC
SuperResolve = Callable[[np.ndarray], np.ndarray]


def describe(scale: int, max_side: int | None) -> str:
    """The protocol in one line, printed above every table of these numbers."""
    crop = "whole images" if max_side is None else f"centred crops of at most {max_side}x{max_side} px"
    return (f"HR: {crop}, sides a multiple of {scale}; LR: Pillow antialiased bicubic x1/{scale}; "
            f"PSNR/SSIM on Y (BT.601), {scale}-px border")


def bicubic_resize(pixels: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    return resize(pixels, size, Image.Resampling.BICUBIC)


def make_pair(image: np.ndarray, scale: int, max_side: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(HR, LR) of one original image, as published benchmarks make them."""
    hr = center_crop(image, max_side, scale)
    return hr, bicubic_resize(hr, (hr.shape[1] // scale, hr.shape[0] // scale))


def bicubic_baseline(lr: np.ndarray, scale: int) -> np.ndarray:
    """The result every model is compared against."""
    return bicubic_resize(lr, (lr.shape[1] * scale, lr.shape[0] * scale))


@dataclass(frozen=True)
class ImageScore:
    name: str
    psnr: float
    ssim: float
    bicubic_psnr: float
    bicubic_ssim: float


def load_upscaler(source: str | Path, scale: int | None = None, device: str = "auto") -> Upscaler:
    """Any model the app can use (export, checkpoint, bundled name, third-party file); `scale`, when
    given, must be the model's. Raises ModelLoadError or ConfigError with a one-line message."""
    model = load_model(source)
    if scale and scale != model.scale:
        raise ConfigError(f"--scale {scale} does not match the model's x{model.scale}")
    return Upscaler(model, device=device)


def score_folder(upscale: SuperResolve, scale: int, folder: str | Path, channels: int = 3,
                 max_side: int | None = None) -> Iterator[ImageScore | str]:
    """One ImageScore per usable image of `folder`, or a warning string naming a skipped one."""
    paths = list_images(folder)
    if not paths:
        raise DataError(f"no readable images in {folder}")
    for path in paths:
        try:
            image = read_pixels(path, channels)
        except ImageReadError as exc:
            yield f"skipped {path.name}: {exc}"
            continue
        if min(image.shape[:2]) < min_hr_side(scale):
            yield f"skipped {path.name}: too small"
            continue
        hr, lr = make_pair(image, scale, max_side)
        yield score_pair(upscale, path.name, hr, lr, scale)


def score_pair(upscale: SuperResolve, name: str, hr: np.ndarray, lr: np.ndarray, scale: int) -> ImageScore:
    """The model's and bicubic's PSNR/SSIM on one (original, input) pair, however the input was made."""
    sr, bicubic = upscale(lr), bicubic_baseline(lr, scale)
    return ImageScore(name, psnr_y(sr, hr, scale), ssim_y(sr, hr, scale), psnr_y(bicubic, hr, scale),
                      ssim_y(bicubic, hr, scale))


def mean_score(scores: list[ImageScore]) -> ImageScore:
    values = np.mean([[s.psnr, s.ssim, s.bicubic_psnr, s.bicubic_ssim] for s in scores], axis=0)
    return ImageScore(f"mean of {len(scores)}", *(float(v) for v in values))
