"""The training loop through its event stream: phases, metrics, checkpoints, resume, rollback, export."""

from __future__ import annotations

import copy
import math
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import torch

from engine import events as ev
from engine.training.checkpoint import load_checkpoint
from engine.training.config import TrainConfig
from engine.data.dataset import TrainingData
from engine.models.export import load_generator
from engine.training.gan_step import GANStep, averaged_generator, ema_decay_at, update_ema
from engine.models.registry import load_model
from engine.training.perceptual import vgg_feature_stack
from engine.training.run_folder import RunExistsError, config_to_resume
from engine.training.speed_probe import phases_of
from engine.training.trainer import Trainer, schedule_factor
from engine.training.validation import ValidationSet
from tests.trainer_helpers import SHALLOW_LAYERS, of_type, run_all

@pytest.fixture
def config(tiny_config: TrainConfig) -> TrainConfig:
    return tiny_config.replace(perceptual_layers=SHALLOW_LAYERS)


def test_full_run_yields_phases_metrics_validation_and_exports(config: TrainConfig,
                                                               thin_vgg16: torch.nn.Sequential) -> None:
    events = run_all(Trainer(config.replace(sample_every=2), feature_net=thin_vgg16))
    assert [(e.step, e.phase) for e in of_type(events, ev.PhaseChanged)] == [(0, "pretrain"), (2, "gan")]
    steps = of_type(events, ev.StepMetrics)
    assert [s.step for s in steps] == [1, 2, 3, 4]
    assert set(steps[0].losses) == {"g_pixel", "g_loss"} and steps[0].d_real is None
    gan = steps[-1]
    assert {"g_pixel", "g_perceptual", "g_adversarial", "g_loss", "d_adversarial", "d_loss"} <= set(gan.losses)
    assert all(math.isfinite(v) for v in gan.losses.values()) and 0 < gan.d_real < 1
    assert gan.steps_per_s > 0 and steps[0].eta_s >= gan.eta_s == 0

    validations = of_type(events, ev.Validation)
    assert [v.step for v in validations] == [1, 2, 4] and not validations[0].is_best and validations[1].is_best
    assert validations[0].bicubic_psnr == validations[1].bicubic_psnr > 15
    previews = of_type(events, ev.Previews)
    assert [s.step for s in previews] == [1, 2, 4] and len(previews[0].crops) == 2  # one per validation image
    crop = previews[0].crops[0]
    assert crop.lr.shape[0] * 4 == crop.sr.shape[0] == crop.hr.shape[0] and crop.sr.dtype.name == "uint8"
    figures = sorted(p.name for p in (Path(config.out_dir) / "samples").iterdir())
    assert figures == ["step_000002.png", "step_000004.png"]

    finished = events[-1]
    assert isinstance(finished, ev.Finished) and finished.reason == "completed" and finished.step == 4
    model, meta = load_generator(finished.export_path)
    assert meta["steps"] == 4 and meta["config"]["gen_features"] == 8 and meta["phase"] == "gan"
    assert meta["data"] == Path(config.data_dir).name
    assert (Path(config.out_dir) / "best.safetensors").is_file()
    assert model(torch.rand(1, 3, 8, 8)).shape == (1, 3, 32, 32)


def test_the_phase_boundary_is_one_rule_for_loop_schedule_export_and_estimate(config: TrainConfig) -> None:
    """pretrain_steps=2: updates 1 and 2 are pixel pretraining, update 3 is the GAN's first, everywhere."""
    config = config.replace(steps=3, pretrain_steps=2, lr_schedule="cosine", perceptual_weight=0)
    assert [config.phase_at(step) for step in range(3)] == ["pretrain", "pretrain", "gan"]
    assert config.phase_steps() == {"pretrain": 2, "gan": 1} and phases_of(config) == ["pretrain", "gan"]
    assert schedule_factor(config, 1) < 1 and schedule_factor(config, 2) == 1.0  # the GAN's schedule restarts
    stop_after_two = Trainer(config)
    events = run_all(stop_after_two, lambda e: stop_after_two.request_stop()
                     if isinstance(e, ev.StepMetrics) and e.step == 2 else None)
    assert [s.phase for s in of_type(events, ev.StepMetrics)] == ["pretrain", "pretrain"]
    assert load_generator(events[-1].export_path)[1]["phase"] == "pretrain"
    events = run_all(Trainer(config_to_resume(config.out_dir), resume=True))
    assert [(s.step, s.phase) for s in of_type(events, ev.StepMetrics)] == [(3, "gan")]
    assert load_generator(events[-1].export_path)[1]["phase"] == "gan"


def test_checkpoint_loads_without_pickle_and_gives_the_generator(config: TrainConfig) -> None:
    run_all(Trainer(config.replace(perceptual_weight=0)))
    path = Path(config.out_dir) / "checkpoint.pt"
    state = torch.load(path, map_location="cpu", weights_only=True)
    stored = config.replace(perceptual_weight=0, out_dir=".", data_dir=str(Path(config.data_dir).resolve()))
    assert state["progress"]["step"] == 4 and state["config"] == stored.to_dict()  # nothing names the folder
    assert {"generator", "ema", "discriminator", "opt_g", "opt_d"} <= set(state["gan"])
    assert set(state["progress"]) == {"step", "history"} and "rng" in state
    assert set(state["components"]) == {"best", "rollback", "collapse", "frozen"}  # each part under its own name
    assert state["components"]["best"]["step"] > 0 and state["components"]["rollback"]["lr_scale"] == 1.0
    ema, raw = load_model(path, which="ema"), load_model(path, which="generator")
    assert (ema.metadata["weights"], raw.metadata["weights"], ema.metadata["step"]) == ("ema", "generator", 4)
    assert not torch.equal(ema.module.body[0].weight, raw.module.body[0].weight)  # EMA lags the raw weights
    assert not ema.module.training and ema.value_range == (0.0, 1.0)


def test_existing_run_is_never_overwritten(config: TrainConfig) -> None:
    run_all(Trainer(config.replace(steps=1, pretrain_steps=1, perceptual_weight=0)))
    with pytest.raises(RunExistsError, match="already holds a run"):
        Trainer(config)


def test_stop_then_resume_continues_the_same_run(config: TrainConfig, thin_vgg16: torch.nn.Sequential) -> None:
    trainer = Trainer(config, feature_net=thin_vgg16)

    def stop_at_3(event: Any) -> None:
        if isinstance(event, ev.StepMetrics) and event.step == 3:
            trainer.request_stop()

    events = run_all(trainer, stop_at_3)
    finished = events[-1]
    assert (finished.reason, finished.step) == ("stopped", 3)
    assert of_type(events, ev.CheckpointSaved)[-1].reason == "stop"
    assert load_checkpoint(finished.checkpoint_path)["progress"]["step"] == 3
    assert Path(finished.export_path).is_file()

    resumed = Trainer(config.replace(steps=6), resume=True, feature_net=vgg_feature_stack("vgg16", 16))
    assert [h.step for h in resumed.history if isinstance(h, ev.StepRecord)] == [1, 2, 3]
    events = run_all(resumed)
    assert (events[0].step, events[0].path) == (3, str(Path(config.out_dir) / "checkpoint.pt"))
    replayed = list(ev.replay_history(events[0].history, 6))
    assert [e.step for e in replayed if isinstance(e, ev.StepMetrics)] == [1, 2, 3]
    assert [e.phase for e in replayed if isinstance(e, ev.PhaseChanged)] == ["pretrain", "gan"]
    assert [e.step for e in replayed if isinstance(e, ev.Validation)] == [1, 2]
    assert [e.step for e in of_type(events, ev.StepMetrics)] == [4, 5, 6]
    assert [h.step for h in resumed.history if isinstance(h, ev.StepRecord)] == [1, 2, 3, 4, 5, 6]
    assert (events[-1].reason, events[-1].step) == ("completed", 6)


def test_requested_checkpoint_is_written_after_the_step_and_the_run_goes_on(config: TrainConfig,
                                                                         thin_vgg16: torch.nn.Sequential) -> None:
    trainer = Trainer(config.replace(checkpoint_every=1000, val_every=1000), feature_net=thin_vgg16)
    on_disk: dict[str, int] = {}

    def react(event: Any) -> None:
        if isinstance(event, ev.StepMetrics) and event.step == 2:
            trainer.request_checkpoint()
        if isinstance(event, ev.CheckpointSaved) and event.reason == "requested":
            on_disk["requested"] = load_checkpoint(event.path)["progress"]["step"]

    events = run_all(trainer, react)
    saved = [(e.step, e.reason) for e in of_type(events, ev.CheckpointSaved)]
    assert [entry for entry in saved if entry[1] == "requested"] == [(2, "requested")] and saved[-1] == (4, "final")
    assert on_disk == {"requested": 2}
    assert (events[-1].reason, events[-1].step) == ("completed", 4)


def test_deleted_vgg_weights_warn_and_train_without_perceptual(config: TrainConfig,
                                                              monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr("engine.training.perceptual.BUNDLED_VGG", tmp_path / "deleted.safetensors")
    events = run_all(Trainer(config))
    warnings = [e for e in of_type(events, ev.TrainWarning) if e.code == "no-vgg-weights"]
    assert len(warnings) == 1 and "deleted.safetensors" in warnings[0].message
    assert "vgg_weights" in warnings[0].message
    assert all("g_perceptual" not in e.losses for e in of_type(events, ev.StepMetrics))
    assert events[-1].reason == "completed"


def test_bundled_vgg_weights_give_a_perceptual_term_with_no_warning(config: TrainConfig) -> None:
    events = run_all(Trainer(config.replace(steps=3, pretrain_steps=1)))
    assert not [e for e in of_type(events, ev.TrainWarning) if "vgg" in e.code]
    gan = [e for e in of_type(events, ev.StepMetrics) if e.phase == "gan"]
    assert gan and all(math.isfinite(e.losses["g_perceptual"]) and e.losses["g_perceptual"] > 0 for e in gan)


def test_configured_vgg_weights_give_a_perceptual_term(config: TrainConfig, tmp_path: Path) -> None:
    weights = tmp_path / "vgg16-head.pth"
    torch.save({f"features.{k}": v for k, v in vgg_feature_stack("vgg16")[:8].state_dict().items()}, weights)
    events = run_all(Trainer(config.replace(perceptual_net="vgg16", vgg_weights=str(weights))))
    assert not [e for e in of_type(events, ev.TrainWarning) if "vgg" in e.code]
    gan = [e for e in of_type(events, ev.StepMetrics) if e.phase == "gan"]
    assert gan and all(math.isfinite(e.losses["g_perceptual"]) and e.losses["g_perceptual"] > 0 for e in gan)


def test_corrupt_file_warns_and_training_goes_on(config: TrainConfig) -> None:
    (Path(config.data_dir) / "corrupt.png").write_bytes(b"garbage")
    events = run_all(Trainer(config.replace(perceptual_weight=0)))
    skipped = [e for e in of_type(events, ev.TrainWarning) if e.code == "skipped-file"]
    assert len(skipped) == 1 and "corrupt.png" in skipped[0].message
    assert events[-1].reason == "completed"


def test_an_error_still_checkpoints_exports_and_finishes(config: TrainConfig) -> None:
    trainer = Trainer(config.replace(perceptual_weight=0, checkpoint_every=100))
    original = trainer.gan.generator.forward
    calls = 0

    def failing_forward(x: torch.Tensor) -> torch.Tensor:
        nonlocal calls
        calls += 1
        if calls == 3:
            raise RuntimeError("simulated out of memory")
        return original(x)

    trainer.gan.generator.forward = failing_forward
    events = run_all(trainer)
    finished = events[-1]
    assert finished.reason == "failed" and "simulated out of memory" in finished.message
    assert of_type(events, ev.CheckpointSaved)[-1].reason == "error"
    assert load_checkpoint(finished.checkpoint_path)["progress"]["step"] == finished.step > 0
    assert Path(finished.export_path).is_file()


@pytest.mark.parametrize("loss", ["wgan-gp", "hinge", "lsgan"])
def test_other_adversarial_losses_train(config: TrainConfig, loss: str) -> None:
    events = run_all(Trainer(config.replace(adversarial_loss=loss, perceptual_weight=0, discriminator="vgg",
                                            grad_clip=1.0, lr_schedule="step", steps=2, pretrain_steps=0)))
    gan = of_type(events, ev.StepMetrics)[-1]
    assert events[-1].reason == "completed" and math.isfinite(gan.losses["d_loss"])
    assert ("d_gp" in gan.losses) == (loss == "wgan-gp")


def test_init_generator_starts_from_pretrained_weights(config: TrainConfig, tmp_path: Path) -> None:
    pretrained = Trainer(config.replace(out_dir=str(tmp_path / "pixel"), steps=2, pretrain_steps=2))
    export = of_type(run_all(pretrained), ev.Finished)[0].export_path
    source, _ = load_generator(export)

    gan = Trainer(config.replace(out_dir=str(tmp_path / "gan"), init_generator=export))
    for name, weights in source.state_dict().items():
        assert torch.equal(gan.gan.generator.state_dict()[name], weights), name
        assert torch.equal(gan.gan.ema.module.state_dict()[name], weights), name


def test_init_generator_of_another_size_sets_the_runs_size_and_says_so(config: TrainConfig, tmp_path: Path) -> None:
    other = Trainer(config.replace(out_dir=str(tmp_path / "wide"), gen_features=12, steps=1, pretrain_steps=1))
    export = of_type(run_all(other), ev.Finished)[0].export_path
    gan = Trainer(config.replace(out_dir=str(tmp_path / "gan"), init_generator=export, steps=1,
                                pretrain_steps=0))
    assert gan.config.gen_features == 12 and gan.gan.generator.num_feat == 12
    notes = [w.message for w in of_type(run_all(gan), ev.TrainWarning) if w.code == "init-architecture"]
    assert notes and "gen_features=12" in notes[0]


def test_ema_warms_up_then_averages_at_the_configured_decay() -> None:
    model = torch.nn.Linear(2, 2)
    ema = averaged_generator(model, decay=0.999)
    with torch.no_grad():
        model.weight.add_(1.0)
    update_ema(ema, model, step=0)  # the first update follows the trained weights, not the random start
    gap = (ema.module.weight - model.weight).abs().max().item()
    assert gap == pytest.approx(0.1, abs=1e-5)
    assert ema_decay_at(0.999, 0) == pytest.approx(0.1)
    assert ema_decay_at(0.999, 100_000) == 0.999


@torch.no_grad()
def old_ema_update(ema: torch.nn.Module, model: torch.nn.Module, decay: float, step: int) -> None:
    """The hand-written EMA that wrote the checkpoints of earlier versions, kept here as the reference."""
    decay = min(decay, (1 + step) / (10 + step))
    for ema_p, p in zip(ema.parameters(), model.parameters()):
        ema_p.lerp_(p, 1.0 - decay)
    for ema_b, b in zip(ema.buffers(), model.buffers()):
        ema_b.copy_(b)


def test_an_old_runs_ema_resumes_and_goes_on_bit_for_bit(config: TrainConfig) -> None:
    """A checkpoint of the hand-written EMA ("ema": the averaged generator's own state dict) resumes into
    torch's AveragedModel, which then averages exactly as the old code would have; and the state written
    now has the old layout, so the old readers (registry, init_generator) still read it."""
    config = config.replace(perceptual_weight=0.0, generator="classic")  # BatchNorm: buffers are copied
    gan = GANStep(config, torch.device("cpu"))
    torch.manual_seed(3)
    old_ema = copy.deepcopy(gan.generator)
    with torch.no_grad():  # an old run's average, some way behind its raw weights
        for parameter in old_ema.parameters():
            parameter.add_(torch.randn_like(parameter) * 0.01)
    state = gan.state_dict()
    assert set(state["ema"]) == set(gan.generator.state_dict())  # the old layout: no wrapper keys
    state["ema"] = copy.deepcopy(old_ema.state_dict())
    gan.load_state_dict(state)
    for step in (40, 41, 42):  # resumed at step 40 of a run whose decay is still warming up at 0.995
        hr = torch.rand(2, 3, 32, 32, generator=torch.Generator().manual_seed(step))
        gan.step(hr, torch.nn.functional.interpolate(hr, scale_factor=0.25, mode="area"), "pretrain", step)
        old_ema_update(old_ema, gan.generator, config.ema_decay, step)
        for name, expected in old_ema.state_dict().items():
            assert torch.equal(gan.ema.module.state_dict()[name], expected), (step, name)
    assert ema_decay_at(config.ema_decay, 40) < config.ema_decay


def test_realistic_degradation_trains_and_is_stored(config: TrainConfig, thin_vgg16: torch.nn.Sequential) -> None:
    realistic = config.replace(degradation="realistic", realistic="strong")
    events = run_all(Trainer(realistic, feature_net=thin_vgg16))
    finished = events[-1]
    assert isinstance(finished, ev.Finished) and finished.reason == "completed"
    assert all(math.isfinite(v) for s in of_type(events, ev.StepMetrics) for v in s.losses.values())
    stored = TrainConfig.from_dict(load_checkpoint(Path(config.out_dir) / "checkpoint.pt")["config"])
    assert stored.degradation == "realistic" and stored.realistic == realistic.realistic
    # validation crops are degraded as the run trains: blur, noise and JPEG cost bicubic decibels
    images = TrainingData.load(config).val.images
    degraded_bicubic = of_type(events, ev.Validation)[0].bicubic_psnr
    assert degraded_bicubic == pytest.approx(ValidationSet(images, realistic).bicubic.psnr)
    assert degraded_bicubic < ValidationSet(images, config).bicubic.psnr - 0.5


def test_validation_also_comes_by_time_with_a_growing_wait(config: TrainConfig, monkeypatch) -> None:
    now = [0.0]
    monkeypatch.setattr("engine.training.step_clock.time", SimpleNamespace(perf_counter=lambda: now[0]))
    trainer = Trainer(config.replace(steps=8, pretrain_steps=0, val_every=1000, val_seconds=20, perceptual_weight=0))
    validated = []
    for event in trainer.run():
        if isinstance(event, ev.StepMetrics):
            now[0] += 15.0  # each step takes 15 s
        elif isinstance(event, ev.Validation):
            validated.append(event.step)
    # step 1 (t=15), then 30 s after it (step 3, t=45; the wait doubles to 40 s), 45 s after that (step 6), the end
    assert validated == [1, 3, 6, 8]
    assert len(of_type(trainer.history, ev.ValidationRecord)) == 4
