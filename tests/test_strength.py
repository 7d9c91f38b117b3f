"""The strength setting: network interpolation between a model and its partner, on tiny nets, through the
partner table (engine.models.sources) and the command line."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from engine.archs.networks import CompactGenerator
from engine.cli.main import main
from engine.errors import ModelLoadError
from engine.models import registry, sources
from engine.models.export import export_generator
from engine.models.strength import StrengthMixer, interpolate_states, load_at_strength
from engine.upscaling.batch import UpscaleOptions
from engine.upscaling.upscaler import OptionsError, Upscaler


def _pair() -> tuple[CompactGenerator, CompactGenerator]:
    """A faithful net and a crisp one near it, as a GAN fine-tune is near the model it started from."""
    torch.manual_seed(0)
    faithful = CompactGenerator(3, num_feat=8, num_conv=2, scale=2)
    crisp = CompactGenerator(3, num_feat=8, num_conv=2, scale=2)
    crisp.load_state_dict({k: v + 0.05 * torch.randn_like(v) for k, v in faithful.state_dict().items()})
    return faithful, crisp


@pytest.fixture
def bundled(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A bundled-models folder holding a crisp model with a partner, and one without."""
    folder = tmp_path / "models"
    folder.mkdir()
    faithful, crisp = _pair()
    for name, net in (("crisp", crisp), ("faithful", faithful), ("alone", crisp)):
        export_generator(folder / f"{name}.safetensors", net.state_dict(), net.spec(), (0.0, 1.0))
    monkeypatch.setattr(sources, "BUNDLED_DIR", folder)
    monkeypatch.setattr(sources, "STRENGTH_PARTNERS", {"crisp": "faithful"})
    return folder


def _image(path: Path) -> Path:
    pixels = np.random.default_rng(1).integers(0, 256, (10, 12, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(path)
    return path


def test_interpolation_is_the_weighted_mean_of_each_weight() -> None:
    low = {"w": torch.zeros(2, 2), "b": torch.tensor([1.0, 3.0]), "steps": torch.tensor(7)}
    high = {"w": torch.full((2, 2), 4.0), "b": torch.tensor([3.0, -1.0]), "steps": torch.tensor(7)}
    mixed = interpolate_states(low, high, 0.25)
    assert torch.equal(mixed["w"], torch.ones(2, 2))
    assert torch.equal(mixed["b"], torch.tensor([1.5, 2.0]))
    assert mixed["steps"].item() == 7 and not mixed["steps"].is_floating_point()
    assert all(torch.equal(interpolate_states(low, high, 0.0)[k], low[k]) for k in low)
    assert all(torch.equal(interpolate_states(low, high, 1.0)[k], high[k]) for k in high)


@pytest.mark.parametrize(("other", "message"), [
    ({"w": torch.zeros(2, 2)}, "tensors only in one: b"),
    ({"w": torch.zeros(3, 2), "b": torch.zeros(2)}, r"w: \(2, 2\) against \(3, 2\)"),
])
def test_two_architectures_cannot_be_mixed(other: dict[str, torch.Tensor], message: str) -> None:
    with pytest.raises(ModelLoadError, match=message):
        interpolate_states({"w": torch.zeros(2, 2), "b": torch.zeros(2)}, other, 0.5)


@pytest.mark.parametrize("strength", [-0.1, 1.01])
def test_a_strength_outside_zero_to_one_is_refused(strength: float) -> None:
    with pytest.raises(ValueError, match="strength must be between 0 and 1"):
        interpolate_states({}, {}, strength)
    with pytest.raises(OptionsError, match="strength must be between 0 and 1"):
        UpscaleOptions(strength=strength)


def test_the_ends_are_the_two_models_and_the_picture_moves_steadily_between(bundled: Path) -> None:
    faithful, crisp = (registry.load_model(bundled / f"{name}.safetensors") for name in ("faithful", "crisp"))
    mixer = StrengthMixer(crisp, faithful)
    x = torch.rand(1, 3, 9, 11)
    with torch.no_grad():
        ends = faithful.module(x), crisp.module(x)
        outputs = [mixer.at(s).module(x) for s in np.linspace(0, 1, 6)]
    assert torch.allclose(outputs[0], ends[0], atol=1e-6) and torch.allclose(outputs[-1], ends[1], atol=1e-6)
    away = [float((out - ends[0]).abs().mean()) for out in outputs]
    assert all(b > a for a, b in zip(away, away[1:])), away
    assert mixer.weights(0.4) is mixer.weights(0.4)  # computed once per value
    assert mixer.at(0.4).module is not mixer.at(0.4).module  # a fresh network each time: nothing shared moves


def test_an_upscaler_changing_one_network_leaves_the_cached_weights_alone(bundled: Path) -> None:
    first = load_at_strength("crisp", strength=0.5)
    Upscaler(first, "cpu")
    first.module.half()
    again = load_at_strength("crisp", strength=0.5)
    assert all(p.dtype == torch.float32 for p in again.module.parameters())


def test_only_models_with_a_partner_have_a_strength(bundled: Path) -> None:
    assert sources.strength_partner("crisp") == bundled / "faithful.safetensors"
    assert sources.strength_partner(bundled / "crisp.safetensors") == bundled / "faithful.safetensors"
    assert sources.strength_partner("alone") is None and sources.strength_partner("faithful") is None
    with pytest.raises(ModelLoadError, match="alone has no strength setting"):
        load_at_strength("alone", strength=0.5)
    assert load_at_strength("alone").name == "alone"  # no strength: the model as it is


def test_command_line_strength(bundled: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    image = _image(tmp_path / "a.png")
    results = {}
    for strength in ("0", "0.5", "1"):
        out = tmp_path / f"out{strength}"
        assert main(["upscale", str(image), "--model", "crisp", "--strength", strength, "--out", str(out)]) == 0
        results[strength] = np.asarray(Image.open(next(out.iterdir())), dtype=np.int16)
    assert np.abs(results["0"] - results["1"]).mean() > 1
    assert 0 < np.abs(results["0"] - results["0.5"]).mean() < np.abs(results["0"] - results["1"]).mean()
    for strength, message in (("2", "strength must be between 0 and 1"), ("0.5", "has no strength setting")):
        model = "crisp" if strength == "2" else "alone"
        args = ["upscale", str(image), "--model", model, "--strength", strength, "--out", str(tmp_path / "bad")]
        assert main(args) == 2
        err = capsys.readouterr().err
        assert message in err and "Traceback" not in err
    assert not (tmp_path / "bad").exists()
