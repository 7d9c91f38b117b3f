"""The RRDB key map: spandrel's RRDBNet weights written with BasicSR's keys load back in spandrel as the
same network (any block count, x4 and the pixel-unshuffle x2), and the bundled x4plus round-trips."""

from __future__ import annotations

import pytest
import spandrel
import torch
from safetensors.torch import load_file
from spandrel.architectures.ESRGAN import ESRGAN

from engine.archs.rrdb_layout import block_count, is_basicsr, to_basicsr, to_spandrel
from engine.resources import resource_path


@pytest.mark.parametrize(("scale", "blocks"), [(4, 1), (2, 2)])
def test_basicsr_keys_load_in_spandrel_with_identical_output(scale: int, blocks: int) -> None:
    torch.manual_seed(0)
    shuffle = 2 if scale == 2 else None
    net = ESRGAN(in_nc=3 * (shuffle or 1) ** 2, out_nc=3, num_filters=8, num_blocks=blocks, scale=4,
                 shuffle_factor=shuffle).eval()
    basicsr = to_basicsr(net.state_dict())
    assert is_basicsr(basicsr) and block_count(basicsr) == blocks
    descriptor = spandrel.ModelLoader().load_from_state_dict(basicsr)
    assert descriptor.architecture.id == "ESRGAN" and descriptor.scale == scale
    x = torch.rand(1, 3, 8, 8)
    with torch.no_grad():
        assert torch.equal(descriptor.model.eval()(x), net(x))
    assert to_spandrel(basicsr).keys() == net.state_dict().keys()


def test_bundled_x4plus_round_trips() -> None:
    path = resource_path("models") / "realesrgan-x4plus.safetensors"
    if not path.is_file():
        pytest.skip("realesrgan-x4plus is not bundled in this checkout")
    state = load_file(str(path))
    assert is_basicsr(state) and block_count(state) == 23
    assert to_basicsr(to_spandrel(state)).keys() == state.keys()


def test_a_foreign_key_is_named() -> None:
    with pytest.raises(KeyError, match="upconv9"):
        to_spandrel({"conv_first.weight": torch.zeros(1), "body.0.rdb1.conv1.weight": torch.zeros(1),
                     "upconv9.weight": torch.zeros(1)})
