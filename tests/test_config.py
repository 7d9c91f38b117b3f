"""TrainConfig refuses bad values by name, parses command-line text by type, and round-trips."""

from __future__ import annotations

import pytest

from engine.config import ConfigError, TrainConfig, classic_preset, preset


@pytest.mark.parametrize(("field", "value"), [
    ("scale", 3), ("channels", 2), ("hr_patch", 30), ("batch_size", 0), ("lr_g", 0.0), ("beta2", 1.0),
    ("adversarial_loss", "wgan"), ("generator", "edsr"), ("gen_blocks", -1), ("workers", -2),
])
def test_bad_value_names_the_field(field: str, value: object) -> None:
    with pytest.raises(ConfigError, match=field):
        TrainConfig(**{field: value})


def test_pretrain_longer_than_the_run_is_refused() -> None:
    with pytest.raises(ConfigError, match="pretrain_steps"):
        TrainConfig(steps=10, pretrain_steps=11)


def test_overrides_are_parsed_by_type() -> None:
    config = TrainConfig().with_overrides(["batch_size=8", "lr_g=1e-4", "augment=off", "adversarial_loss=hinge",
                                           'perceptual_layers={"relu2_2": 1}'])
    assert config.batch_size == 8 and isinstance(config.batch_size, int)
    assert config.lr_g == pytest.approx(1e-4)
    assert config.augment is False
    assert config.adversarial_loss == "hinge"
    assert config.perceptual_layers == {"relu2_2": 1.0}


@pytest.mark.parametrize("item", ["batch_size=eight", "augment=maybe", "no_such_field=1", "batch_size"])
def test_bad_override_is_a_config_error(item: str) -> None:
    with pytest.raises(ConfigError):
        TrainConfig().with_overrides([item])


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
