"""The realistic degradation pipeline: each stage on tiny images with fixed seeds, then the whole chain."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from engine.data.blur_kernels import filter2d, shaped_kernel, sinc_kernel
from engine.data.degradations import (CUSTOM, LIGHT, MEDIUM, STRENGTHS, STRONG, DegradationError, RealisticDegradation,
                                 add_gaussian_noise, add_poisson_noise, degrade, jpeg, parse_parameter,
                                 random_kernel, realistic_from, strength_of)


def smooth_image(channels: int = 3, size: int = 48, seed: int = 0) -> torch.Tensor:
    """Gradients and a soft disc: structure JPEG and blur act on, no noise of its own."""
    y, x = torch.meshgrid(torch.linspace(0, 1, size), torch.linspace(0, 1, size), indexing="ij")
    disc = ((x - 0.5) ** 2 + (y - 0.4) ** 2 < 0.08).float()
    planes = [0.2 + 0.6 * x, 0.8 - 0.5 * y, 0.3 + 0.4 * disc][:channels]
    return torch.stack(planes)[None] + 0.01 * seed


# ----------------------------------------------------------------------------- kernels
@pytest.mark.parametrize("shape", ["gaussian", "generalized", "plateau"])
def test_kernels_sum_to_one_and_are_point_symmetric(shape: str) -> None:
    kernel = shaped_kernel(13, 2.5, 1.0, 0.7, shape, beta=1.6)
    assert kernel.shape == (13, 13) and kernel.sum().item() == pytest.approx(1.0)
    torch.testing.assert_close(kernel, kernel.flip(0, 1))  # so convolution and correlation agree
    assert kernel.argmax().item() == 13 * 6 + 6 and (kernel > 0).all()
    iso = shaped_kernel(9, 1.5, 1.5, 0.0, shape, beta=1.6)
    torch.testing.assert_close(iso, iso.T)
    torch.testing.assert_close(iso, iso.flip(0))


def test_gaussian_kernel_is_the_gaussian_and_anisotropy_follows_the_angle() -> None:
    axis = torch.arange(-4, 5, dtype=torch.float64)
    one_d = torch.exp(-axis ** 2 / (2 * 1.3 ** 2))
    torch.testing.assert_close(shaped_kernel(9, 1.3, 1.3, 0.0), torch.outer(one_d, one_d) / one_d.sum() ** 2)
    wide = shaped_kernel(15, 3.0, 0.8, 0.0)  # long along x (columns)
    assert wide[7, 3] > 10 * wide[3, 7]
    turned = shaped_kernel(15, 3.0, 0.8, torch.pi / 2)
    torch.testing.assert_close(turned, wide.T)


def test_sinc_kernel_sums_to_one_and_rings() -> None:
    kernel = sinc_kernel(21, torch.pi / 4)
    assert kernel.shape == (21, 21) and kernel.sum().item() == pytest.approx(1.0)
    torch.testing.assert_close(kernel, kernel.T)
    torch.testing.assert_close(kernel, kernel.flip(1))
    assert kernel.min() < 0 < kernel[10, 10] == kernel.max()  # the negative lobes that make ringing


def test_random_kernels_are_normalised_and_odd_sized() -> None:
    rng = np.random.default_rng(0)
    for _ in range(30):
        kernel = random_kernel(rng, STRONG, STRONG.blur_sigma)
        assert kernel.shape[0] == kernel.shape[1] and kernel.shape[0] % 2 == 1
        assert kernel.sum().item() == pytest.approx(1.0)


@pytest.mark.parametrize("size", [32, 6])
def test_filter2d_equals_a_direct_convolution(size: int) -> None:
    images = torch.rand(2, 3, size, size + 5)
    kernel = shaped_kernel(11, 2.0, 1.0, 0.4)
    mode = "reflect" if size > 5 else "replicate"
    padded = F.pad(images.reshape(6, 1, size, size + 5), (5, 5, 5, 5), mode=mode)
    direct = F.conv2d(padded, kernel.float()[None, None]).reshape(images.shape)
    torch.testing.assert_close(filter2d(images, kernel), direct, atol=1e-5, rtol=0)
    flat = torch.full((1, 1, size, size), 0.3)
    torch.testing.assert_close(filter2d(flat, kernel), flat, atol=1e-6, rtol=0)


# ----------------------------------------------------------------------------- noise and JPEG
def test_gaussian_noise_has_the_asked_std_and_gray_noise_is_shared() -> None:
    grey = torch.full((1, 3, 96, 96), 0.5)
    noisy = add_gaussian_noise(grey, 5 / 255, gray=False, generator=torch.Generator().manual_seed(0))
    assert (noisy - grey).std().item() * 255 == pytest.approx(5.0, rel=0.03)
    assert (noisy - grey).mean().abs().item() * 255 < 0.1
    shared = add_gaussian_noise(grey, 5 / 255, gray=True, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(shared[:, 0], shared[:, 2])
    assert not torch.equal(noisy[:, 0], noisy[:, 2])


def test_poisson_noise_grows_with_brightness_and_scale() -> None:
    def noise_std(level: float, scale: float) -> float:
        image = torch.full((1, 1, 128, 128), level)
        noisy = add_poisson_noise(image, scale, gray=False, generator=torch.Generator().manual_seed(1))
        return (noisy - image).std().item()

    assert noise_std(0.0, 1.0) == 0.0
    assert noise_std(0.64, 1.0) / noise_std(0.16, 1.0) == pytest.approx(2.0, rel=0.08)  # std ~ sqrt(level)
    assert noise_std(0.25, 2.0) / noise_std(0.25, 1.0) == pytest.approx(2.0, rel=0.08)
    rgb = add_poisson_noise(torch.full((1, 3, 16, 16), 0.5), 1.0, gray=True, generator=torch.Generator().manual_seed(2))
    torch.testing.assert_close(rgb[:, 0], rgb[:, 1])


@pytest.mark.parametrize("channels", [1, 3])
def test_jpeg_changes_the_image_and_quality_matters(channels: int) -> None:
    image = smooth_image(channels)
    low, high = jpeg(image, 10), jpeg(image, 90)
    assert low.shape == high.shape == image.shape
    assert torch.equal(low * 255, (low * 255).round())
    low_error, high_error = ((out - image).abs().mean().item() for out in (low, high))
    assert low_error > 2 * high_error > 0


# ----------------------------------------------------------------------------- the whole chain
@pytest.mark.parametrize("params", [LIGHT, MEDIUM, STRONG], ids=list(STRENGTHS))
@pytest.mark.parametrize("channels", [1, 3])
def test_degrade_gives_8_bit_lr_of_hr_over_scale(params: RealisticDegradation, channels: int) -> None:
    hr = torch.cat([smooth_image(channels, 34, seed) for seed in range(4)])[..., :30]
    lr = degrade(hr, params, 4, torch.Generator().manual_seed(3))
    assert lr.shape == (4, channels, 8, 7) and lr.dtype == hr.dtype
    assert lr.min() >= 0 and lr.max() <= 1 and torch.equal(lr * 255, (lr * 255).round())


def test_degrade_is_a_function_of_the_seed_and_each_sample_draws_its_own() -> None:
    hr = smooth_image(3, 32).repeat(3, 1, 1, 1)
    first = degrade(hr, STRONG, 2, torch.Generator().manual_seed(5))
    torch.manual_seed(123)  # the global generator plays no part
    assert torch.equal(first, degrade(hr, STRONG, 2, torch.Generator().manual_seed(5)))
    assert not torch.equal(first, degrade(hr, STRONG, 2, torch.Generator().manual_seed(6)))
    assert not torch.equal(first[0], first[1]) and not torch.equal(first[1], first[2])  # same image, new draws


def test_a_pipeline_without_randomness_is_plain_shrinking() -> None:
    """Every stage switched off leaves the final resize: the chain adds nothing it was not asked for."""
    off = {item.name: 0.0 for item in dataclasses.fields(RealisticDegradation) if item.name.endswith(("_prob", "_prob2"))}
    plain = RealisticDegradation(**off)
    flat = torch.full((2, 3, 16, 16), 0.4)
    torch.testing.assert_close(degrade(flat, plain, 4, torch.Generator().manual_seed(0)),
                               torch.full((2, 3, 4, 4), round(0.4 * 255) / 255))


# ----------------------------------------------------------------------------- parameters
def test_strength_names_and_custom() -> None:
    assert [strength_of(params) for params in (LIGHT, MEDIUM, STRONG)] == ["light", "medium", "strong"]
    assert strength_of(dataclasses.replace(MEDIUM, noise_prob=0.31)) == CUSTOM
    assert realistic_from("strong") is STRONG and str(STRONG) == "strong"
    custom = dataclasses.replace(LIGHT, jpeg_quality=(50.0, 60.0))
    assert realistic_from(str(custom)) == custom  # the text a settings field shows parses back


def test_medium_covers_a_typical_web_photo() -> None:
    assert MEDIUM.blur_sigma[0] <= 1.2 <= MEDIUM.blur_sigma[1]
    assert MEDIUM.resize_down[0] <= 0.25 and MEDIUM.noise_sigma[0] <= 5 <= MEDIUM.noise_sigma[1]
    assert all(q[0] <= 60 <= q[1] for q in (MEDIUM.jpeg_quality, MEDIUM.jpeg_quality2))


@pytest.mark.parametrize(("changes", "named"), [
    ({"noise_prob": 1.5}, "noise_prob"), ({"blur_sigma": (2.0, 1.0)}, "blur_sigma"),
    ({"jpeg_quality2": (0.0, 90.0)}, "jpeg_quality2"), ({"resize_down": (0.5,)}, "resize_down"),
    ({"resize_up_prob": 0.6, "resize_down_prob": 0.6}, "resize_down_prob"),
    ({"noise_sigma": "loud"}, "noise_sigma"),
])
def test_bad_parameters_name_the_field(changes: dict[str, object], named: str) -> None:
    with pytest.raises(DegradationError, match=named):
        dataclasses.replace(MEDIUM, **changes)


def test_stored_parameters_parse_and_unknown_ones_are_refused() -> None:
    stored = {**dataclasses.asdict(STRONG), "noise_sigma": [1, 20]}  # as JSON gives it back
    params = realistic_from(stored)
    assert params.noise_sigma == (1.0, 20.0) and params.blur_sigma == STRONG.blur_sigma
    assert realistic_from({"noise_prob": 0.2}) == dataclasses.replace(MEDIUM, noise_prob=0.2)
    with pytest.raises(DegradationError, match="typo_prob"):
        realistic_from({"typo_prob": 0.1})
    with pytest.raises(DegradationError, match="extreme"):
        realistic_from("extreme")
    assert parse_parameter("noise_sigma", "[1, 20]") == (1.0, 20.0) and parse_parameter("noise_prob", "0.3") == 0.3
    for name, text in (("noise_sigma", "3"), ("noise_prob", "[0, 1]"), ("noise_prob", "x"), ("nothing", "1")):
        with pytest.raises(DegradationError):
            parse_parameter(name, text)
