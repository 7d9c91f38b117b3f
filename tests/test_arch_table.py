"""Every architecture in the table trains, exports and reloads (through spandrel where spandrel can)."""

from __future__ import annotations

import pytest
import torch
from safetensors.torch import load_file

from engine.archs.table import ARCHITECTURES
from engine.models.export import export_generator
from engine.models.registry import load_model

CASES = [(name, scale) for name, arch in ARCHITECTURES.items() for scale in (min(arch.scales), max(arch.scales))]


def _tiny(name: str, scale: int) -> torch.nn.Module:
    torch.manual_seed(0)
    return ARCHITECTURES[name].build(3, scale, 8, 1)


@pytest.mark.parametrize(("name", "scale"), CASES)
def test_trains_on_tiny_tensors(name: str, scale: int) -> None:
    model = _tiny(name, scale).train()
    lr = torch.rand(2, 3, 32 // scale, 32 // scale)
    target = torch.rand(2, 3, 32 // scale * scale, 32 // scale * scale)
    trainable = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.Adam(trainable, lr=1e-3)
    losses = []
    for _ in range(4):
        opt.zero_grad()
        loss = torch.nn.functional.l1_loss(model(lr), target)
        loss.backward()
        losses.append(loss.item())
        if len(losses) == 1:
            silent = [n for n, p in model.named_parameters() if p.requires_grad and not p.grad.abs().sum() > 0]
            assert not silent, f"no gradient reaches {silent}"
        opt.step()
    assert losses[-1] < losses[0]


@pytest.mark.parametrize(("name", "scale"), CASES)
def test_export_reloads_with_identical_output(name: str, scale: int, tmp_path) -> None:
    model = _tiny(name, scale).eval()
    path = export_generator(tmp_path / "g.safetensors", model.state_dict(), model.spec(), model.value_range)
    x = torch.rand(1, 3, 8, 8)
    with torch.no_grad():
        expected = model(x)
        ours = load_model(path, device="cpu").module
        assert torch.equal(ours(x), expected)
        if name == "classic":
            return  # ours alone: spandrel has no architecture for the article's SRGAN
        from spandrel import ModelLoader

        descriptor = ModelLoader().load_from_state_dict(load_file(str(path)))
        assert descriptor.scale == scale
        assert torch.allclose(descriptor.model.eval()(x), expected, atol=1e-6)


def test_config_refuses_a_scale_or_channel_count_the_generator_lacks() -> None:
    from engine.training.config import ConfigError, TrainConfig

    with pytest.raises(ConfigError, match="esrgan generator upscales x2 or x4, not x3"):
        TrainConfig(generator="esrgan", scale=3, init_generator="")
    with pytest.raises(ConfigError, match="span generator takes 3 channel"):
        TrainConfig(generator="span", channels=1, init_generator="")
    assert TrainConfig(generator="span", scale=3, init_generator="").scale == 3
