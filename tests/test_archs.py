"""The architectures match the article's layer spec, and the Compact generator is the upstream layout."""

from __future__ import annotations

import pytest
import spandrel
import torch

from engine.archs.discriminators import ClassicDiscriminator
from engine.archs.networks import ClassicGenerator, CompactGenerator


def conv(k: int, cin: int, cout: int) -> int:
    return k * k * cin * cout + cout


def bn(c: int) -> int:
    return 2 * c


def parameters(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def article_generator_parameters() -> int:
    """From the article's layer table: 9x9 head, two 3x3 transposed convs (64->256->128), three dense
    blocks of two 3x3 convs growing by 32 from 128, 192 and 256 channels, 9x9 tail from 320 channels."""
    total = conv(9, 1, 64) + bn(64) + conv(3, 64, 256) + bn(256) + conv(3, 256, 128) + bn(128)
    for block_in in (128, 192, 256):
        total += sum(conv(3, block_in + 32 * i, 32) + bn(32) for i in range(2))
    return total + conv(9, 320, 1)


def article_discriminator_parameters() -> int:
    """Four 3x3 convs (1->64->64->128->256), BatchNorm after all but the first, a 1x1 head."""
    return (conv(3, 1, 64) + conv(3, 64, 64) + bn(64) + conv(3, 64, 128) + bn(128)
            + conv(3, 128, 256) + bn(256) + conv(1, 256, 1))


def test_classic_generator_matches_the_article() -> None:
    model = ClassicGenerator(1, 4)
    assert article_generator_parameters() == 834_817
    assert parameters(model) == 834_817
    out = model.eval()(torch.rand(2, 1, 32, 32) * 2 - 1)
    assert out.shape == (2, 1, 128, 128)
    assert out.abs().max() <= 1.0  # tanh output range


def test_classic_discriminator_matches_the_article() -> None:
    model = ClassicDiscriminator(1)
    assert article_discriminator_parameters() == 407_745
    assert parameters(model) == 407_745
    assert model(torch.rand(3, 1, 128, 128)).shape == (3, 1)


@pytest.mark.parametrize("scale", [2, 4])
def test_compact_generator_loads_in_spandrel(scale: int) -> None:
    model = CompactGenerator(3, 16, 4, scale)
    descriptor = spandrel.ModelLoader().load_from_state_dict(model.state_dict())
    assert descriptor.architecture.name == "RealESRGAN Compact"
    assert descriptor.scale == scale
    x = torch.rand(1, 3, 12, 12)
    with torch.no_grad():
        assert torch.allclose(descriptor.model(x), model(x), atol=1e-5)
