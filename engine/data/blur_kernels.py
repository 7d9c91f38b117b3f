"""Blur kernels of Real-ESRGAN's degradation model, and the filter that applies one per image.

Real photos are blurred by lenses, focus and shake in shapes a bicubic pipeline never shows a model:
elongated, heavy-tailed, flat-topped, or ringing like a sharpened JPEG. torchvision's Gaussian blur
covers only the axis-aligned Gaussian, so the others are built here. Kernels are a few hundred taps,
made on the CPU in float64 and cast to the image's device and dtype.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

KERNEL_SHAPES = ("gaussian", "generalized", "plateau")


def _grid(size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(y, x) offsets from the centre of an odd size x size kernel."""
    if size < 1 or size % 2 == 0:
        raise ValueError(f"a kernel's size must be odd, not {size}")
    axis = torch.arange(size, dtype=torch.float64) - size // 2
    y, x = torch.meshgrid(axis, axis, indexing="ij")
    return y, x


def shaped_kernel(size: int, sigma_x: float, sigma_y: float, angle: float, shape: str = "gaussian",
                  beta: float = 1.0) -> torch.Tensor:
    """A normalised size x size kernel over q, the squared distance scaled by sigma_x / sigma_y along axes
    turned by `angle` (radians): Gaussian exp(-q/2); generalized Gaussian exp(-q^beta / 2) (beta < 1:
    heavy tails, > 1: a sharp shoulder); plateau 1 / (1 + q^beta) (a flat top that falls off slowly)."""
    if shape not in KERNEL_SHAPES:
        raise ValueError(f"kernel shape must be one of {', '.join(KERNEL_SHAPES)}, not {shape!r}")
    y, x = _grid(size)
    cos, sin = math.cos(angle), math.sin(angle)
    q = ((cos * x + sin * y) / sigma_x) ** 2 + ((cos * y - sin * x) / sigma_y) ** 2
    exponent = 1.0 if shape == "gaussian" else beta
    kernel = 1 / (1 + q ** exponent) if shape == "plateau" else torch.exp(-0.5 * q ** exponent)
    return kernel / kernel.sum()


def sinc_kernel(size: int, cutoff: float) -> torch.Tensor:
    """An ideal circular low-pass filter of cutoff frequency `cutoff` (radians, pi = none), cut to size x
    size: it rings at edges as over-sharpened and compressed pictures do."""
    y, x = _grid(size)
    radius = torch.sqrt(x ** 2 + y ** 2)
    kernel = cutoff * torch.special.bessel_j1(cutoff * radius) / (2 * math.pi * radius)
    kernel[size // 2, size // 2] = cutoff ** 2 / (4 * math.pi)  # the limit at radius 0
    return kernel / kernel.sum()


def filter2d(images: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    """Every channel of an (N, C, H, W) batch convolved with one odd-sized kernel, edges mirrored
    (repeated when the image is smaller than the kernel's reach).

    By FFT: a 21x21 kernel on a 3x128x128 crop took 6-9 ms as conv2d on a 2-core CPU, the FFT 0.4 ms. The
    mirrored border absorbs the FFT's wrap-around, so the result equals a direct convolution."""
    h, w = images.shape[-2:]
    pad = kernel.shape[-1] // 2
    mode = "reflect" if pad < min(h, w) else "replicate"
    padded = F.pad(images, (pad, pad, pad, pad), mode=mode)
    size = (_fft_size(h + 2 * pad), _fft_size(w + 2 * pad))
    spectrum = torch.fft.rfft2(kernel.to(device=images.device, dtype=images.dtype), s=size)
    filtered = torch.fft.irfft2(torch.fft.rfft2(padded, s=size) * spectrum, s=size)
    return filtered[..., 2 * pad:h + 2 * pad, 2 * pad:w + 2 * pad]


def _fft_size(length: int) -> int:
    """The smallest length >= `length` with no prime factor above 5: an FFT of 148 took 4x longer than
    one of 160 here."""
    size = length
    while True:
        rest = size
        for prime in (2, 3, 5):
            while rest % prime == 0:
                rest //= prime
        if rest == 1:
            return size
        size += 1
