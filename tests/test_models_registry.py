"""The model registry: our exports, our checkpoints, spandrel models; everything else refused, no code run."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from engine.models import registry as models
from engine.models import sources
from engine.archs.networks import ClassicGenerator, CompactGenerator
from engine.training.checkpoint import save_checkpoint
from engine.models.export import export_generator
from engine.errors import ModelLoadError
from engine.models.registry import bundled_models, load_model, resolve_model_source


@pytest.fixture
def net() -> CompactGenerator:
    torch.manual_seed(0)
    return CompactGenerator(3, num_feat=8, num_conv=2, scale=4).eval()


def same_output(a: torch.nn.Module, b: torch.nn.Module, channels: int = 3) -> bool:
    x = torch.rand(1, channels, 12, 10)
    with torch.no_grad():
        return torch.allclose(a(x), b(x), atol=1e-6)


def test_our_export_loads_as_srgan_studio(tmp_path: Path, net: CompactGenerator) -> None:
    path = export_generator(tmp_path / "mine.safetensors", net.state_dict(), net.spec(), (0.0, 1.0))
    model = load_model(path)
    assert (model.kind, model.scale, model.in_channels, model.value_range) == ("srgan-studio", 4, 3, (0.0, 1.0))
    assert model.supports_half and model.supports_bf16
    assert same_output(model.module, net) and not model.module.training


def test_training_checkpoint_loads_the_chosen_weights(tmp_path: Path, net: CompactGenerator) -> None:
    ema = CompactGenerator(3, num_feat=8, num_conv=2, scale=4)
    path = save_checkpoint(tmp_path / "checkpoint.pt", {
        "generator_spec": net.spec(), "generator": net.state_dict(), "ema": ema.state_dict(), "step": 7,
        "config": {"preset": "default"}})
    from_ema = load_model(path, which="ema")
    from_raw = load_model(path, which="generator")
    assert from_ema.kind == from_raw.kind == "checkpoint" and from_ema.metadata["step"] == 7
    assert same_output(from_ema.module, ema) and same_output(from_raw.module, net)


def test_classic_checkpoint_reports_its_range_and_channels(tmp_path: Path) -> None:
    classic = ClassicGenerator(1, 2).eval()
    path = save_checkpoint(tmp_path / "classic.pt", {
        "generator_spec": classic.spec(), "generator": classic.state_dict(), "ema": None, "step": 1, "config": {}})
    model = load_model(path)  # no EMA kept: falls back to the raw weights
    assert (model.in_channels, model.scale, model.value_range) == (1, 2, (-1.0, 1.0))
    assert model.supports_half and not model.supports_bf16


@pytest.mark.parametrize("suffix", [".pth", ".safetensors"])
def test_plain_state_dicts_load_through_spandrel(tmp_path: Path, net: CompactGenerator, suffix: str) -> None:
    path = tmp_path / f"third_party{suffix}"
    if suffix == ".pth":
        torch.save(net.state_dict(), path)
    else:
        save_file({k: v.contiguous() for k, v in net.state_dict().items()}, str(path))
    model = load_model(path)
    assert (model.kind, model.scale, model.in_channels) == ("spandrel", 4, 3)
    assert model.metadata["architecture"] == "RealESRGAN Compact"
    assert same_output(model.module, net)


def test_pickle_that_would_run_code_is_refused_without_running_it(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"

    class Payload:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    path = tmp_path / "evil.pth"
    torch.save({"body.0.weight": Payload()}, path)
    with pytest.raises(ModelLoadError, match="refused: evil.pth is a pickle that would run code"):
        load_model(path)
    assert not marker.exists()


@pytest.mark.parametrize("content,message", [
    (b"", "empty"),
    (b"name,value\n1,2\n", "not a readable model file"),
    (bytes(range(256)) * 4, "not a readable model file"),
])
def test_files_that_are_not_models_are_refused(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "model.pth"
    path.write_bytes(content)
    with pytest.raises(ModelLoadError, match=message):
        load_model(path)


def test_state_dict_of_something_else_is_not_a_super_resolution_model(tmp_path: Path) -> None:
    path = tmp_path / "classifier.pth"
    torch.save(torch.nn.Linear(4, 2).state_dict(), path)
    with pytest.raises(ModelLoadError, match="not a super-resolution model spandrel recognises"):
        load_model(path)


def test_sources_resolve_to_bundled_models_or_paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                   net: CompactGenerator) -> None:
    monkeypatch.setattr(sources, "BUNDLED_DIR", tmp_path)
    with pytest.raises(ModelLoadError, match="default model .* is not there yet"):
        resolve_model_source("default")
    export_generator(tmp_path / "default-x4.safetensors", net.state_dict(), net.spec(), (0.0, 1.0))
    export_generator(tmp_path / "sharp-x4.safetensors", net.state_dict(), net.spec(), (0.0, 1.0))
    assert list(bundled_models()) == ["default-x4", "sharp-x4"]
    assert resolve_model_source("default") == tmp_path / "default-x4.safetensors"
    assert resolve_model_source("sharp-x4") == tmp_path / "sharp-x4.safetensors"
    assert load_model("default").kind == "srgan-studio"
    with pytest.raises(ModelLoadError, match="model not found: nowhere.pth"):
        resolve_model_source("nowhere.pth")
    with pytest.raises(ModelLoadError, match="is a folder"):
        resolve_model_source(tmp_path)


def test_unknown_weights_choice_is_refused(tmp_path: Path, net: CompactGenerator) -> None:
    path = export_generator(tmp_path / "m.safetensors", net.state_dict(), net.spec(), (0.0, 1.0))
    with pytest.raises(ModelLoadError, match="which must be one of"):
        load_model(path, which="best")


def test_describe_model_reads_the_header_only(tmp_path: Path, net: CompactGenerator) -> None:
    photo = export_generator(tmp_path / "photo.safetensors", net.state_dict(), net.spec(), (0.0, 1.0),
                             extra={"phase": "gan", "config": {"degradation": "realistic"}})
    own = export_generator(tmp_path / "own.safetensors", net.state_dict(), net.spec(), (0.0, 1.0),
                           extra={"description": "Anime line art"})
    plain = tmp_path / "plain.safetensors"
    save_file(net.state_dict(), str(plain))
    converted = tmp_path / "converted.safetensors"  # third-party weights that carry a description
    save_file(net.state_dict(), str(converted), metadata={"description": "Real-ESRGAN x4plus: photos"})
    torch.save(net.state_dict(), tmp_path / "net.pth")
    assert models.describe_model(photo).startswith(models.PHOTO_PURPOSE + " · ×4 · ")
    assert models.describe_model(own).startswith("Anime line art · ×4 · ")
    assert models.describe_model(plain).startswith("Third-party model · ")
    assert models.describe_model(converted).startswith("Real-ESRGAN x4plus: photos · ")
    assert models.describe_model(tmp_path / "net.pth").startswith("PyTorch model file · ")
    assert models.describe_model(tmp_path / "gone.safetensors") == "Not found"
