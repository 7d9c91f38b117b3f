"""PSNR/SSIM on Y against values worked out by hand from their definitions."""

from __future__ import annotations

import math

import numpy as np
import pytest

from engine.scoring.metrics import SSIM_K1, psnr_y, rgb_to_y, ssim_y


def gray(value: int, shape: tuple[int, ...] = (32, 32, 3)) -> np.ndarray:
    return np.full(shape, value, dtype=np.uint8)


def test_rgb_to_y_uses_the_studio_range() -> None:
    assert rgb_to_y(gray(0))[0, 0] == pytest.approx(16.0)
    assert rgb_to_y(gray(255))[0, 0] == pytest.approx(235.0)
    pure_green = np.zeros((1, 1, 3), np.uint8)
    pure_green[..., 1] = 255
    assert rgb_to_y(pure_green)[0, 0] == pytest.approx(16 + 128.553)
    assert rgb_to_y(gray(77, (4, 4)))[0, 0] == 77  # grayscale is Y already


def test_identical_images() -> None:
    image = np.random.default_rng(0).integers(0, 256, (40, 40, 3), dtype=np.uint8)
    assert psnr_y(image, image.copy(), border=4) == math.inf
    assert ssim_y(image, image.copy(), border=4) == pytest.approx(1.0)


def test_known_mse_gives_known_psnr() -> None:
    # Grayscale offset by 5 everywhere: MSE 25.
    assert psnr_y(gray(105, (32, 32)), gray(100, (32, 32)), border=0) == pytest.approx(10 * math.log10(255**2 / 25))
    # An RGB offset of 10 on every channel moves Y by 10 * 219/255.
    mse = (10 * 219 / 255) ** 2
    assert psnr_y(gray(110), gray(100), border=2) == pytest.approx(10 * math.log10(255**2 / mse))


def test_border_is_ignored() -> None:
    hr = gray(100)
    sr = hr.copy()
    sr[:4] = 0
    sr[:, -4:] = 255
    assert psnr_y(sr, hr, border=4) == math.inf
    assert psnr_y(sr, hr, border=3) < 20


def test_ssim_of_flat_images_is_the_luminance_term() -> None:
    # Flat images have no variance, so SSIM reduces to (2ab + C1) / (a^2 + b^2 + C1).
    c1 = (SSIM_K1 * 255) ** 2
    expected = (2 * 100 * 130 + c1) / (100**2 + 130**2 + c1)
    assert ssim_y(gray(130, (24, 24)), gray(100, (24, 24)), border=0) == pytest.approx(expected)


def test_ssim_falls_with_noise() -> None:
    rng = np.random.default_rng(1)
    hr = np.tile(np.linspace(0, 255, 64, dtype=np.float64), (64, 1))
    light = np.clip(hr + rng.normal(0, 5, hr.shape), 0, 255).astype(np.uint8)
    heavy = np.clip(hr + rng.normal(0, 40, hr.shape), 0, 255).astype(np.uint8)
    hr = hr.astype(np.uint8)
    assert 1.0 > ssim_y(light, hr, 4) > ssim_y(heavy, hr, 4) > 0.0


def test_mismatched_shapes_are_refused() -> None:
    with pytest.raises(ValueError, match="shape"):
        psnr_y(gray(1, (8, 8, 3)), gray(1, (8, 9, 3)), border=0)


def reference_ssim(x: np.ndarray, y: np.ndarray) -> float:
    """Wang et al.'s formula evaluated window by window with a full 11x11 gaussian (slow, obviously right)."""
    coords = np.arange(11) - 5
    g = np.exp(-(coords[:, None] ** 2 + coords[None, :] ** 2) / (2 * 1.5**2))
    g /= g.sum()
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    values = []
    for i in range(x.shape[0] - 10):
        for j in range(x.shape[1] - 10):
            a, b = x[i:i + 11, j:j + 11], y[i:i + 11, j:j + 11]
            mu_a, mu_b = (g * a).sum(), (g * b).sum()
            var_a, var_b = (g * a * a).sum() - mu_a**2, (g * b * b).sum() - mu_b**2
            cov = (g * a * b).sum() - mu_a * mu_b
            values.append((2 * mu_a * mu_b + c1) * (2 * cov + c2) / ((mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2)))
    return float(np.mean(values))


def test_ssim_matches_the_windowed_definition() -> None:
    rng = np.random.default_rng(2)
    hr = rng.integers(0, 256, (22, 25), dtype=np.uint8)
    sr = np.clip(hr + rng.normal(0, 20, hr.shape), 0, 255).astype(np.uint8)
    expected = reference_ssim(sr.astype(np.float64), hr.astype(np.float64))
    assert ssim_y(sr, hr, border=0) == pytest.approx(expected, rel=1e-9)
