"""A run's starting weights decide its architecture: spandrel-style files, BasicSR RRDBs, refusals."""

from __future__ import annotations

import pytest
import torch
from safetensors.torch import load_file, save_file

from engine.archs.table import ARCHITECTURES
from engine.models.export import export_generator
from engine.training.config import ConfigError, TrainConfig
from engine.training.gan_step import GANStep
from engine.training.init_model import read_init_model


def _save(tmp_path, name: str, state: dict[str, torch.Tensor]) -> str:
    path = tmp_path / name
    save_file({k: v.contiguous() for k, v in state.items()}, str(path))  # no metadata: a third-party file
    return str(path)


def test_a_spandrel_style_compact_file_sets_the_size_and_scale(tmp_path) -> None:
    model = ARCHITECTURES["compact"].build(3, 2, 8, 3)
    path = _save(tmp_path, "compact.safetensors", model.state_dict())
    init = read_init_model(path)
    config, note = init.adopt(TrainConfig(init_generator=path, scale=4, gen_features=32))
    assert (config.generator, config.scale, config.gen_features, config.gen_blocks) == ("compact", 2, 8, 3)
    assert "compact.safetensors" in note and "scale=2" in note
    gan = GANStep(config, torch.device("cpu"), init=init)
    assert torch.equal(gan.generator.body[0].weight, model.body[0].weight)


def test_a_basicsr_rrdb_trains_as_esrgan_and_exports_basicsr_keys(tmp_path) -> None:
    model = ARCHITECTURES["esrgan"].build(3, 4, 8, 1)
    state = model.state_dict()
    assert "conv_first.weight" in state and "body.0.rdb1.conv1.weight" in state
    path = _save(tmp_path, "rrdb.safetensors", state)
    init = read_init_model(path)
    config, _ = init.adopt(TrainConfig(init_generator=path, perceptual_weight=0.0))
    assert (config.generator, config.scale, config.gen_features, config.gen_blocks) == ("esrgan", 4, 8, 1)
    gan = GANStep(config, torch.device("cpu"), init=init)
    exported = export_generator(tmp_path / "out.safetensors", gan.generator.state_dict(), gan.generator.spec(),
                                gan.generator.value_range)
    tensors = load_file(str(exported))
    assert set(tensors) == set(state)
    assert torch.equal(tensors["conv_first.weight"], state["conv_first.weight"])


def test_an_unknown_state_dict_is_refused_with_the_name_and_reason(tmp_path) -> None:
    path = _save(tmp_path, "mystery.safetensors", {"foo.weight": torch.zeros(3, 3)})
    with pytest.raises(ConfigError, match="mystery.safetensors is not a super-resolution model spandrel recognises"):
        read_init_model(path)


def test_a_run_reads_and_identifies_its_init_file_once(tiny_config: TrainConfig, tmp_path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    from engine.models import registry
    from engine.training.trainer import Trainer

    model = ARCHITECTURES["compact"].build(3, 4, 8, 3)
    path = export_generator(tmp_path / "start.safetensors", model.state_dict(), model.spec(), (0.0, 1.0))
    reads = []
    read = registry.read_model_file
    monkeypatch.setattr(registry, "read_model_file", lambda p: reads.append(p) or read(p))
    trainer = Trainer(tiny_config.replace(init_generator=str(path), gen_blocks=2))
    assert reads == [path] and trainer.config.gen_blocks == 3  # adopted from the file ...
    assert torch.equal(trainer.gan.generator.body[0].weight, model.body[0].weight)  # ... and started from it
