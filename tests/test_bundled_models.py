"""The shipped models: they load through the upscaler's registry, say how they were made, stay small,
and beat bicubic on a bundled photo."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from engine.data import load_image
from engine.evaluation import bicubic_baseline, make_pair
from engine.metrics import psnr_y
from engine.inference import Upscaler
from engine.models import bundled_models, load_model, resolve_model_source
from engine.resources import resource_path

SHIPPED = {"default-x4": 4, "faithful-x4": 4, "faithful-x2": 2}  # name -> scale
SAMPLES = sorted(resource_path("samples").glob("*.jpg"))[:6]


@pytest.mark.parametrize(("name", "scale"), SHIPPED.items())
def test_shipped_model_loads_with_its_training_record(name: str, scale: int) -> None:
    path = bundled_models()[name]
    assert path.stat().st_size < 10 * 2**20
    model = load_model(name)
    assert (model.kind, model.scale, model.in_channels) == ("srgan-studio", scale, 3)
    meta = model.metadata
    assert meta["config"]["scale"] == scale and meta["steps"] > 0
    assert meta["data"] and meta["training_command"].startswith("python -m engine train")
    assert meta["validation"]["images"] > 0
    assert meta["validation"]["psnr"] > meta["validation"]["bicubic_psnr"]


def test_default_means_default_x4() -> None:
    assert resolve_model_source("default") == bundled_models()["default-x4"]


@pytest.mark.parametrize(("name", "scale"), SHIPPED.items())
def test_shipped_model_beats_bicubic_on_bundled_photos(name: str, scale: int) -> None:
    upscaler = Upscaler(load_model(name), device="cpu")
    gains = []
    for sample in SAMPLES:
        hr, lr = make_pair(load_image(sample, 3), scale, max_side=192)
        sr = upscaler.upscale(lr)
        assert sr.shape == hr.shape and sr.dtype == np.uint8
        gains.append(psnr_y(sr, hr, scale) - psnr_y(bicubic_baseline(lr, scale), hr, scale))
    assert min(gains) > 0, gains
    assert np.mean(gains) > 0.3, gains


@pytest.mark.parametrize("name", SHIPPED)
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_shipped_model_gives_the_same_output_in_half_precision(name: str, dtype: torch.dtype) -> None:
    """What a GPU runs them in (engine.inference.resolve_dtype): > 50 dB PSNR against fp32, checked here
    with the CPU's kernels; bench/upscale_speed.py checks it on a GPU."""
    module = load_model(name).module
    x = torch.from_numpy(load_image(SAMPLES[0], 3)[:64, :64].astype(np.float32) / 255).permute(2, 0, 1)[None]
    with torch.inference_mode():
        reference = module(x).clamp(0, 1)
        half = module.to(dtype)(x.to(dtype)).float().clamp(0, 1)
    assert 10 * math.log10(1 / float(((half - reference) ** 2).mean())) > 50
