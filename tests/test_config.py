"""TrainConfig refuses bad values by name, parses command-line text by type, and round-trips."""

from __future__ import annotations

import dataclasses
import json
import os

import pytest
import torch

from engine.errors import ConfigError
from engine.training.config import AUTO_SHAPES, TrainConfig, classic_preset, parse_assignments, preset
from engine.data.dataset import auto_workers
from engine.data.degradations import LIGHT, STRONG, strength_of


@pytest.mark.parametrize(("field", "value"), [
    ("scale", 5), ("channels", 2), ("hr_patch", 30), ("batch_size", -1), ("lr_g", 0.0), ("beta2", 1.0),
    ("adversarial_loss", "wgan"), ("generator", "edsr"), ("gen_blocks", -1), ("workers", -2),
    ("pixel_weight", float("nan")), ("adversarial_weight", float("inf")), ("perceptual_weight", float("-inf")),
    ("perceptual_layers", {"conv1_2": float("nan")}), ("val_seconds", 0.5), ("val_seconds", -20.0),
    ("val_seconds", 3601.0), ("val_seconds", float("inf")),
])
def test_bad_value_names_the_field(field: str, value: object) -> None:
    with pytest.raises(ConfigError, match=field):
        TrainConfig(**{field: value})


def test_timed_validation_is_off_or_between_a_second_and_an_hour() -> None:
    assert TrainConfig().val_seconds == 20
    assert [TrainConfig(val_seconds=value).val_seconds for value in (0, 1, 3600)] == [0, 1, 3600]
    with pytest.raises(ConfigError, match=r"val_seconds must be 0 \(validate by steps only\) or between 1 and 3600"):
        TrainConfig(val_seconds=0.5)


def test_pretrain_longer_than_the_run_is_refused() -> None:
    with pytest.raises(ConfigError, match="pretrain_steps"):
        TrainConfig(steps=10, pretrain_steps=11)


def test_overrides_are_parsed_by_type() -> None:
    config = TrainConfig().replace(**parse_assignments(["batch_size=8", "lr_g=1e-4", "augment=off",
                                                         "adversarial_loss=hinge", 'perceptual_layers={"relu2_2": 1}']))
    assert config.batch_size == 8 and isinstance(config.batch_size, int)
    assert config.lr_g == pytest.approx(1e-4)
    assert config.augment is False
    assert config.adversarial_loss == "hinge"
    assert config.perceptual_layers == {"relu2_2": 1.0}


@pytest.mark.parametrize("item", ["batch_size=eight", "augment=maybe", "no_such_field=1", "batch_size"])
def test_bad_override_is_a_config_error(item: str) -> None:
    with pytest.raises(ConfigError):
        TrainConfig().replace(**parse_assignments([item]))


def test_round_trip_and_unknown_keys() -> None:
    config = classic_preset(steps=77)
    assert TrainConfig.from_dict(config.to_dict()) == config
    with pytest.raises(ConfigError, match="typo_field"):
        TrainConfig.from_dict({**config.to_dict(), "typo_field": 1})


def test_presets() -> None:
    classic = preset("classic")
    assert (classic.generator, classic.channels, classic.adversarial_loss, classic.pretrain_steps) == (
        "classic", 1, "bce", 0)
    assert classic.perceptual_layers == {"relu4_3": 1.0}
    assert preset("default").generator == "compact"
    with pytest.raises(ConfigError, match="preset"):
        preset("fancy")


def test_the_default_run_is_a_gan_from_the_bundled_pixel_model() -> None:
    default = preset("default")
    assert default.pretrain_steps == 0 and default.init_generator == "bundled"
    assert default.init_source() == "faithful-x4" and default.replace(scale=2).init_source() == "faithful-x2"
    assert default.perceptual_net == "vgg16" and default.perceptual_weight > 0
    scratch = preset("scratch")
    assert scratch.init_generator == "" and 0 < scratch.pretrain_steps < scratch.steps
    classic, classic_init = preset("classic"), preset("classic-init")
    assert classic.init_generator == "" and classic.pretrain_steps == 0
    assert classic_init.pretrain_steps > 0
    assert classic_init.replace(pretrain_steps=0, preset="classic", out_dir=classic.out_dir) == classic


def test_auto_batch_and_patch_are_chosen_per_device() -> None:
    config = TrainConfig()
    assert (config.batch_size, config.hr_patch) == (0, 0)
    for device, (batch, patch) in AUTO_SHAPES.items():
        resolved = config.for_device(device)
        assert (resolved.batch_size, resolved.hr_patch) == (batch, patch)
    assert AUTO_SHAPES["cuda"][1] > AUTO_SHAPES["cpu"][1]
    explicit = config.replace(batch_size=3, hr_patch=48).for_device("cuda")
    assert (explicit.batch_size, explicit.hr_patch) == (3, 48)


def test_realistic_degradation_is_set_by_strength_or_by_parameter() -> None:
    config = TrainConfig().replace(**parse_assignments([
        "degradation=realistic", "realistic=strong", "realistic.noise_prob=0.3", "realistic.noise_sigma=[1,20]"]))
    assert config.degradation == "realistic" and TrainConfig().degradation == "bicubic"
    assert config.realistic == dataclasses.replace(STRONG, noise_prob=0.3, noise_sigma=(1.0, 20.0))
    assert strength_of(config.realistic) == "custom" and strength_of(TrainConfig().realistic) == "medium"
    # a parameter alone changes only itself, on top of what the config already has
    tuned = config.replace(**parse_assignments(["realistic.jpeg_prob=0.5"]))
    assert tuned.realistic == dataclasses.replace(config.realistic, jpeg_prob=0.5)
    assert TrainConfig().replace(**parse_assignments(["realistic=light"])).realistic == LIGHT


@pytest.mark.parametrize(("item", "named"), [
    ("degradation=jpeg", "degradation"), ("realistic=extreme", "extreme"), ("realistic.typo_prob=1", "typo_prob"),
    ("realistic.noise_sigma=3", "noise_sigma"), ("realistic.noise_prob=2", "noise_prob"),
    ("realistic.noise_sigma=[9,1]", "noise_sigma"), ("augment.x=1", "augment.x"),
])
def test_bad_degradation_settings_are_config_errors_naming_them(item: str, named: str) -> None:
    with pytest.raises(ConfigError, match=named):
        TrainConfig().replace(**parse_assignments([item]))


def test_degradation_round_trips_through_checkpoint_dicts_and_json() -> None:
    config = TrainConfig(degradation="realistic").replace(realistic={"noise_sigma": (2.0, 9.0)})
    stored = config.to_dict()
    assert stored["realistic"]["noise_sigma"] == (2.0, 9.0)
    assert TrainConfig.from_dict(stored) == config
    assert TrainConfig.from_dict(json.loads(json.dumps(stored))) == config
    assert TrainConfig.from_dict({**stored, "realistic": "strong"}).realistic == STRONG
    without = {name: value for name, value in stored.items() if name not in ("degradation", "realistic")}
    assert TrainConfig.from_dict(without) == TrainConfig()  # checkpoints from before the setting existed
    with pytest.raises(ConfigError, match="typo_prob"):
        TrainConfig.from_dict({**stored, "realistic": {**stored["realistic"], "typo_prob": 0.1}})
    assert TrainConfig(realistic="light").realistic == LIGHT  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="realistic"):
        TrainConfig(realistic=3)  # type: ignore[arg-type]


@pytest.mark.parametrize(("name", "value"), [("gen_features", 10**7), ("disc_features", 10**8),
                                             ("gen_blocks", 10**7), ("batch_size", 10**6), ("hr_patch", 10**6)])
def test_sizes_that_would_exhaust_memory_are_refused(name: str, value: int) -> None:
    with pytest.raises(ConfigError, match=f"{name} must be at most"):
        preset("default", **{name: value})


def test_more_workers_than_cores_are_capped() -> None:
    assert auto_workers(1000, torch.device("cpu")) == (os.cpu_count() or 1)
    assert auto_workers(0, torch.device("cpu")) == 0
