"""Pixel and adversarial losses. Discriminators return logits, so every GAN loss works on logits:
BCE-with-logits is the article's sigmoid + BCE, without log(0) overflowing."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


# 'l1' (sharper, ESRGAN) or 'mse' (the article's); the config's pixel_loss and perceptual_criterion choices
PIXEL_LOSSES: dict[str, LossFn] = {"l1": F.l1_loss, "mse": F.mse_loss}


def pixel_loss(name: str) -> LossFn:
    if name not in PIXEL_LOSSES:
        raise ValueError(f"pixel loss must be one of {', '.join(PIXEL_LOSSES)}, not {name!r}")
    return PIXEL_LOSSES[name]


def _bce(logits: torch.Tensor, target: float) -> torch.Tensor:
    return F.binary_cross_entropy_with_logits(logits, torch.full_like(logits, target))


@dataclass(frozen=True)
class AdversarialLoss:
    """One GAN objective: `d(real, fake)` is minimised by D, `g(real, fake)` by G (both on logits).

    `g_needs_real` says whether G's loss looks at D's verdict on real images (relativistic does),
    so the trainer skips that extra forward pass otherwise.
    """

    name: str
    d: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
    g: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
    g_needs_real: bool = False
    uses_gradient_penalty: bool = False
    probabilities: bool = True  # logits mean probabilities (sigmoid); WGAN critics' scores do not


def _relativistic(real: torch.Tensor, fake: torch.Tensor, real_target: float) -> torch.Tensor:
    """ESRGAN's relativistic average loss: is real more realistic than the average fake, and vice versa."""
    return 0.5 * (_bce(real - fake.mean(), real_target) + _bce(fake - real.mean(), 1.0 - real_target))


ADVERSARIAL_LOSSES: dict[str, AdversarialLoss] = {
    "bce": AdversarialLoss(
        "bce", d=lambda real, fake: 0.5 * (_bce(real, 1.0) + _bce(fake, 0.0)), g=lambda real, fake: _bce(fake, 1.0)),
    "lsgan": AdversarialLoss(
        "lsgan", d=lambda real, fake: 0.5 * (((real - 1) ** 2).mean() + (fake**2).mean()),
        g=lambda real, fake: ((fake - 1) ** 2).mean()),
    "wgan-gp": AdversarialLoss(
        "wgan-gp", d=lambda real, fake: fake.mean() - real.mean(), g=lambda real, fake: -fake.mean(),
        uses_gradient_penalty=True, probabilities=False),
    "hinge": AdversarialLoss(
        "hinge", d=lambda real, fake: F.relu(1 - real).mean() + F.relu(1 + fake).mean(),
        g=lambda real, fake: -fake.mean(), probabilities=False),
    "relativistic": AdversarialLoss(
        "relativistic", d=lambda real, fake: _relativistic(real, fake, 1.0),
        g=lambda real, fake: _relativistic(real, fake, 0.0), g_needs_real=True),
}


def adversarial_loss(name: str) -> AdversarialLoss:
    if name not in ADVERSARIAL_LOSSES:
        raise ValueError(f"adversarial loss must be one of {', '.join(ADVERSARIAL_LOSSES)}, not {name!r}")
    return ADVERSARIAL_LOSSES[name]


def gradient_penalty(discriminator: nn.Module, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """WGAN-GP: (|grad D(x)| - 1)^2 at random points between real and fake images, so D stays 1-Lipschitz."""
    alpha = torch.rand(real.shape[0], 1, 1, 1, device=real.device, dtype=real.dtype)
    mixed = (alpha * real.detach() + (1 - alpha) * fake.detach()).requires_grad_(True)
    scores = discriminator(mixed)
    (grads,) = torch.autograd.grad(scores.sum(), mixed, create_graph=True)
    return ((grads.flatten(1).norm(dim=1) - 1) ** 2).mean()


def discriminator_stuck(d_losses: Sequence[float], loss_name: str) -> str | None:
    """Why D looks useless over a window of its losses, or None. At ln 2 a BCE-style D cannot tell
    real from fake; near 0 it wins outright and G gets no useful gradient."""
    if not d_losses:
        return None
    mean = sum(d_losses) / len(d_losses)
    if loss_name in ("bce", "relativistic") and abs(mean - math.log(2)) < 0.02:
        return f"the discriminator cannot tell real from fake (loss stays at ln 2 = {math.log(2):.3f})"
    if loss_name in ("bce", "relativistic", "lsgan", "hinge") and mean < 0.01:
        return f"the discriminator wins outright (loss {mean:.4f} near 0): the generator learns little from it"
    return None
