"""The CUDA paths on a real GPU: autocast precisions, channels_last, the CUDA batch and crop, tile halving
on a real out-of-memory error, and half-precision upscaling against fp32. Skipped (with the reason) where
torch sees no CUDA GPU; scripts/gpu_check.py runs them with `-m cuda`. Nothing here needs Qt."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from engine.data.dataset import batch_stream
from engine.models.registry import load_model
from engine.training.config import AUTO_SHAPES, preset
from engine.training.gan_step import GANStep
from engine.training.trainer import Trainer
from engine.upscaling.tiling import iter_tiled_halving, run_to_end
from engine.upscaling.upscaler import Upscaler
from tests.conftest import TINY_SETTINGS

pytestmark = [pytest.mark.cuda,
              pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU (torch sees none)")]

CUDA = torch.device("cuda")
ON_CUDA = {**TINY_SETTINGS, "device": "cuda"}


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)


def picture(side: int, seed: int = 0) -> np.ndarray:
    """Smooth colour gradients with a little noise: detail a model turns into detail, not into noise."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:side, 0:side]
    rgb = np.stack([x * 255 / side, y * 255 / side, 128 + 100 * np.sin(x / 5) * np.cos(y / 7)], axis=-1)
    return np.clip(rgb + rng.normal(0, 6, rgb.shape), 0, 255).astype(np.uint8)


def tiny_batch(config, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    hr = torch.rand(config.batch_size, config.channels, config.hr_patch, config.hr_patch, generator=generator)
    lr = torch.nn.functional.avg_pool2d(hr, config.scale)
    return hr, lr


@pytest.mark.parametrize("precision, dtype", [("fp32", torch.float32), ("bf16", torch.bfloat16),
                                              ("fp16", torch.float16)])
def test_a_gan_step_runs_under_each_autocast_precision(tmp_path: Path, thin_vgg16, precision: str,
                                                       dtype: torch.dtype) -> None:
    config = preset("default", data_dir=str(tmp_path), out_dir=str(tmp_path / "run"), precision=precision,
                    **ON_CUDA)
    gan = GANStep(config, CUDA, feature_net=thin_vgg16)
    assert gan.amp_dtype == (None if precision == "fp32" else dtype)
    assert gan.scaler_g.is_enabled() == (precision == "fp16")  # only fp16 needs loss scaling
    generator = torch.Generator().manual_seed(0)
    for step in range(3):
        result = gan.step(*tiny_batch(config, generator), "gan", step)
        assert all(np.isfinite(value) for value in result.losses.values()), result.losses
    with gan._autocast():  # the convolutions run in the precision asked for
        features = gan.generator.body[0](gan.to_model(torch.rand(1, 3, 8, 8)))
    assert features.dtype == dtype
    assert all(p.dtype == torch.float32 for p in gan.generator.parameters())  # autocast keeps fp32 masters


@pytest.mark.parametrize("channels_last", [True, False])
def test_channels_last_reaches_the_weights_and_the_batches(tmp_path: Path, thin_vgg16, channels_last: bool) -> None:
    config = preset("default", data_dir=str(tmp_path), out_dir=str(tmp_path / "run"), channels_last=channels_last,
                    **ON_CUDA)
    gan = GANStep(config, CUDA, feature_net=thin_vgg16)
    convs = [p for p in [*gan.generator.parameters(), *gan.discriminator.parameters()] if p.dim() == 4]
    batch = gan.to_model(torch.rand(2, 3, 16, 16))
    assert batch.is_cuda
    assert all(p.is_contiguous(memory_format=torch.channels_last) for p in convs) == channels_last
    assert batch.is_contiguous(memory_format=torch.channels_last) == channels_last
    result = gan.step(*tiny_batch(config, torch.Generator().manual_seed(0)), "gan", 0)
    assert np.isfinite(result.losses["g_loss"])


def test_a_run_on_cuda_takes_the_cuda_batch_and_crop(tmp_path: Path, make_images, thin_vgg16) -> None:
    """batch_size and hr_patch left on auto become the CUDA shape, and the batches arrive on the GPU
    with the LR made there."""
    data = tmp_path / "images"
    make_images(data, count=4, size=(160, 168))
    settings = {**ON_CUDA, "batch_size": 0, "hr_patch": 0}
    config = preset("default", data_dir=str(data), out_dir=str(tmp_path / "run"), steps=2, **settings)
    trainer = Trainer(config, feature_net=thin_vgg16)
    batch, patch = AUTO_SHAPES["cuda"]
    assert (trainer.config.batch_size, trainer.config.hr_patch) == (batch, patch)
    hr, lr = next(batch_stream(trainer.data.train.images, trainer.config, (0,), 1, trainer.device))
    assert hr.is_cuda and lr.is_cuda
    assert hr.shape == (batch, 3, patch, patch) and lr.shape == (batch, 3, patch // 4, patch // 4)
    finished = list(trainer.run())[-1]
    assert finished.reason == "completed", finished.message


def test_tiles_are_halved_after_a_real_cuda_out_of_memory(tmp_path: Path) -> None:
    """With the allocator held to a small budget, a 1024-px tile of a 1024-px image runs out of memory
    and the upscale finishes on smaller tiles, with the same result as an unhindered run."""
    model = load_model("default-x4", device=CUDA).module
    image = picture(1024)

    def forward(x: np.ndarray) -> np.ndarray:
        seen.append(x.shape[-1])
        with torch.inference_mode():
            return model(torch.from_numpy(x)[None].to(CUDA))[0].float().cpu().numpy()

    seen: list[int] = []
    reference = run_to_end(iter_tiled_halving(image, forward, 4, 256, 16))
    seen.clear()
    torch.cuda.empty_cache()
    total = torch.cuda.get_device_properties(CUDA).total_memory
    budget = torch.cuda.memory_reserved(CUDA) + 300 * 2**20  # a 1024-px tile needs about 1 GiB here
    torch.cuda.set_per_process_memory_fraction(budget / total, CUDA)
    try:
        result = run_to_end(iter_tiled_halving(image, forward, 4, 1024, 16))
    finally:
        torch.cuda.set_per_process_memory_fraction(1.0, CUDA)
        torch.cuda.empty_cache()
    assert seen[0] == 1024 and max(seen[1:]) < 1024, seen
    assert result.shape == (4096, 4096, 3)
    assert psnr(result, reference) > 50  # tiles blend to the same picture, whatever their size


@pytest.mark.parametrize("model_name", ["default-x4", "faithful-x2"])
def test_half_precision_upscales_match_fp32(model_name: str) -> None:
    image = picture(192, seed=1)
    results = {}
    for precision in ("fp32", "fp16", "bf16"):
        upscaler = Upscaler(load_model(model_name), device=CUDA, precision=precision)
        expected = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}[precision]
        assert upscaler.backend.dtype == expected
        results[precision] = upscaler.upscale(image)
        upscaler.close()
    scale = 4 if model_name.endswith("x4") else 2
    assert results["fp32"].shape == (192 * scale, 192 * scale, 3)
    # Measured with the CPU's kernels: 73 dB (fp16) and 56 dB (bf16) for default-x4 (upscaler.resolve_dtype).
    assert psnr(results["fp16"], results["fp32"]) > 50
    assert psnr(results["bf16"], results["fp32"]) > 40


def test_auto_precision_on_cuda_is_fp16_for_the_bundled_model() -> None:
    upscaler = Upscaler(load_model("default-x4"), device=CUDA)
    assert upscaler.backend.dtype == torch.float16 and upscaler.backend.memory_format == torch.channels_last
    assert upscaler.tile >= 256  # a GPU's free memory allows big tiles (auto_tile_size)
    upscaler.close()
