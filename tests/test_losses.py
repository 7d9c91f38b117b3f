"""Each adversarial loss rewards the right side, on logits; the gradient penalty measures slope."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from engine.training.losses import ADVERSARIAL_LOSSES, adversarial_loss, discriminator_stuck, gradient_penalty, pixel_loss

CONFIDENT_REAL = torch.full((8, 1), 4.0)
CONFIDENT_FAKE = torch.full((8, 1), -4.0)


@pytest.mark.parametrize("name", list(ADVERSARIAL_LOSSES))
def test_discriminator_loss_is_lower_when_it_is_right(name: str) -> None:
    loss = adversarial_loss(name)
    right = loss.d(CONFIDENT_REAL, CONFIDENT_FAKE)
    wrong = loss.d(CONFIDENT_FAKE, CONFIDENT_REAL)
    assert torch.isfinite(right) and torch.isfinite(wrong)
    assert right < wrong


@pytest.mark.parametrize("name", list(ADVERSARIAL_LOSSES))
def test_generator_loss_is_lower_when_it_fools_the_discriminator(name: str) -> None:
    loss = adversarial_loss(name)
    fooled = loss.g(CONFIDENT_FAKE, CONFIDENT_REAL)  # D thinks the fakes are the real ones
    caught = loss.g(CONFIDENT_REAL, CONFIDENT_FAKE)
    assert torch.isfinite(fooled) and fooled < caught


def test_bce_on_logits_equals_sigmoid_then_bce() -> None:
    real, fake = torch.randn(16, 1), torch.randn(16, 1)
    bce = nn.BCELoss()
    expected = 0.5 * (bce(torch.sigmoid(real), torch.ones_like(real))
                      + bce(torch.sigmoid(fake), torch.zeros_like(fake)))
    assert adversarial_loss("bce").d(real, fake) == pytest.approx(float(expected), rel=1e-5)
    assert adversarial_loss("bce").g(real, fake) == pytest.approx(
        float(bce(torch.sigmoid(fake), torch.ones_like(fake))), rel=1e-5)


def test_undecided_discriminator_sits_at_ln2() -> None:
    zeros = torch.zeros(4, 1)
    for name in ("bce", "relativistic"):
        assert adversarial_loss(name).d(zeros, zeros) == pytest.approx(math.log(2))


def test_relativistic_compares_against_the_other_side() -> None:
    # Shifting every logit by the same amount changes nothing: only real-vs-fake differences count.
    real, fake = torch.randn(8, 1), torch.randn(8, 1)
    loss = adversarial_loss("relativistic")
    assert loss.d(real + 3, fake + 3) == pytest.approx(float(loss.d(real, fake)), rel=1e-5)


class Linear(nn.Module):
    """D(x) = sum(w * x) with |w| = `norm`: its gradient norm is `norm` everywhere."""

    def __init__(self, shape: tuple[int, ...], norm: float) -> None:
        super().__init__()
        w = torch.randn(shape)
        self.w = nn.Parameter(w / w.norm() * norm)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x * self.w).flatten(1).sum(1, keepdim=True)


def test_gradient_penalty_measures_distance_from_unit_slope() -> None:
    real, fake = torch.rand(4, 1, 8, 8), torch.rand(4, 1, 8, 8)
    assert gradient_penalty(Linear((1, 8, 8), 1.0), real, fake).item() == pytest.approx(0.0, abs=1e-8)
    assert gradient_penalty(Linear((1, 8, 8), 3.0), real, fake).item() == pytest.approx(4.0, rel=1e-5)
    d = Linear((1, 8, 8), 3.0)
    gradient_penalty(d, real, fake).backward()
    assert d.w.grad is not None and d.w.grad.abs().sum() > 0  # the penalty trains D


def test_pixel_losses() -> None:
    a, b = torch.zeros(1, 1, 2, 2), torch.full((1, 1, 2, 2), 2.0)
    assert pixel_loss("l1")(a, b) == 2.0
    assert pixel_loss("mse")(a, b) == 4.0
    with pytest.raises(ValueError, match="pixel loss"):
        pixel_loss("l3")


def test_stuck_discriminator_is_recognised() -> None:
    assert "cannot tell" in discriminator_stuck([math.log(2)] * 100, "bce")
    assert "wins outright" in discriminator_stuck([0.001] * 100, "hinge")
    assert discriminator_stuck([0.4, 0.5, 0.45] * 30, "bce") is None
    assert discriminator_stuck([0.0] * 100, "wgan-gp") is None  # a critic's score has no "stuck" level
