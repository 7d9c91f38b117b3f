"""TensorBoard event files from a real (tiny) run, read back with TensorBoard's own reader."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from engine import events as ev
from engine.training.config import TrainConfig
from engine.training.trainer import Trainer
from tests.trainer_helpers import SHALLOW_LAYERS, of_type, run_all

event_accumulator = pytest.importorskip("tensorboard.backend.event_processing.event_accumulator")


def test_a_run_writes_the_plotted_scalars_the_samples_and_the_config(tiny_config: TrainConfig,
                                                                      thin_vgg16: torch.nn.Sequential) -> None:
    config = tiny_config.replace(perceptual_layers=SHALLOW_LAYERS, log_tensorboard=True)
    events = run_all(Trainer(config, feature_net=thin_vgg16))
    assert not [w for w in of_type(events, ev.TrainWarning) if w.code == "no-tensorboard"]
    folder = Path(config.out_dir) / "tensorboard"
    reader = event_accumulator.EventAccumulator(str(folder), size_guidance={"images": 0, "tensors": 0})
    reader.Reload()
    tags = reader.Tags()
    assert {"losses/g_loss", "losses/d_loss", "discriminator/d_real", "validation/psnr",
            "validation/bicubic_psnr", "learning_rate/generator"} <= set(tags["scalars"])
    assert [s.step for s in reader.Scalars("losses/g_loss")] == [1, 2, 3, 4]
    validations = of_type(events, ev.Validation)
    psnr = reader.Scalars("validation/psnr")
    assert [s.step for s in psnr] == [v.step for v in validations]
    assert psnr[-1].value == pytest.approx(validations[-1].psnr, rel=1e-5)
    assert "previews/0" in tags["images"]
    image = reader.Images("previews/0")[-1]
    crop = of_type(events, ev.Previews)[-1].crops[0]
    assert (image.height, image.width) == (crop.hr.shape[0], 3 * crop.hr.shape[1])
    (text,) = reader.Tensors("config/text_summary")
    assert b'"gen_features": 8' in text.tensor_proto.string_val[0]


def test_off_by_default_writes_nothing(tiny_config: TrainConfig, thin_vgg16: torch.nn.Sequential) -> None:
    config = tiny_config.replace(perceptual_layers=SHALLOW_LAYERS, steps=1, pretrain_steps=1)
    run_all(Trainer(config, feature_net=thin_vgg16))
    assert not (Path(config.out_dir) / "tensorboard").exists()
