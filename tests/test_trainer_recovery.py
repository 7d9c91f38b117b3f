"""What a run does when things go wrong: NaN/inf losses, overflowing optimizer state, a frozen or
collapsed generator, a full disk, a stop in the middle of a step; and resuming exactly."""

from __future__ import annotations

import math
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch

from engine import events as ev
from engine.io.atomic import DiskFullError
from engine.training.checkpoint import load_checkpoint, save_checkpoint
from engine.cli.main import main
from engine.training.config import TrainConfig
from engine.models.export import read_metadata
from engine.training.run_folder import config_to_resume
from engine.training.run_summary import read_run
from engine.training.trainer import MAX_ROLLBACKS, Trainer
from engine.training.validation import COLLAPSE_COUNT, CollapseWatch, Score
from tests.conftest import TINY_SETTINGS
from tests.trainer_helpers import SHALLOW_LAYERS, of_type, run_all


@pytest.fixture
def config(tiny_config: TrainConfig) -> TrainConfig:
    return tiny_config.replace(perceptual_layers=SHALLOW_LAYERS)


def nan_on_calls(calls: set[int] | None) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    """An L1 loss that returns NaN on the given call numbers (every call when None)."""
    count = 0

    def loss(sr: torch.Tensor, hr: torch.Tensor) -> torch.Tensor:
        nonlocal count
        count += 1
        value = torch.nn.functional.l1_loss(sr, hr)
        return value * math.nan if calls is None or count in calls else value

    return loss


def test_nan_rolls_back_with_lower_learning_rate(config: TrainConfig) -> None:
    trainer = Trainer(config.replace(lr_schedule="constant", perceptual_weight=0, checkpoint_every=100))
    trainer.gan.pixel_loss = nan_on_calls({4})
    events = run_all(trainer)
    (rollback,) = of_type(events, ev.Rollback)
    # Step 4 went NaN; the last good state is the checkpoint taken when the GAN phase began at step 2.
    assert (rollback.term, rollback.step, rollback.to_step) == ("g_pixel", 3, 2)
    assert rollback.lr_g == pytest.approx(config.lr_g / 2) and rollback.lr_d == pytest.approx(config.lr_d / 2)
    steps = of_type(events, ev.StepMetrics)
    assert [s.step for s in steps] == [1, 2, 3, 3, 4]
    assert steps[0].lr_g == pytest.approx(config.lr_g) and steps[-1].lr_g == pytest.approx(config.lr_g / 2)
    assert events[-1].reason == "completed" and events[-1].step == 4


def test_each_rollback_halves_the_rate_again(config: TrainConfig) -> None:
    """The rate of each retry is half that of the attempt that failed (1/2, 1/4, 1/8), not half the
    stored one again."""
    trainer = Trainer(config.replace(lr_schedule="constant", perceptual_weight=0, checkpoint_every=100))
    trainer.gan.pixel_loss = nan_on_calls(None)
    events = run_all(trainer)
    rollbacks = of_type(events, ev.Rollback)
    assert [r.lr_g / config.lr_g for r in rollbacks] == pytest.approx([0.5, 0.25, 0.125])
    assert len(rollbacks) == MAX_ROLLBACKS
    finished = events[-1]
    assert finished.reason == "failed" and "g_pixel" in finished.message and finished.export_path is None
    assert "half the learning rate" in finished.message


def test_an_absurd_loss_weight_that_overflows_adam_is_caught(config: TrainConfig) -> None:
    """pixel_weight=1e37 keeps the loss finite but squares gradients to inf in Adam's second moment; the
    generator would silently stop changing. It is caught and named like a NaN."""
    events = run_all(Trainer(config.replace(pixel_weight=1e37, perceptual_weight=0, steps=3, pretrain_steps=3)))
    rollbacks = of_type(events, ev.Rollback)
    assert rollbacks and "optimizer state" in rollbacks[0].term and "loss weight" in rollbacks[0].term
    assert events[-1].reason == "failed" and "optimizer state" in events[-1].message


def test_a_generator_that_stops_changing_is_caught(config: TrainConfig) -> None:
    trainer = Trainer(config.replace(perceptual_weight=0, steps=4, pretrain_steps=4, val_every=2))
    trainer.gan.opt_g.step = lambda *args, **kwargs: None  # updates silently do nothing
    events = run_all(trainer)
    rollbacks = of_type(events, ev.Rollback)
    assert rollbacks and all(r.term == "the generator's weights" and "stopped changing" in r.problem
                             for r in rollbacks)
    assert events[-1].reason == "failed" and "kept freezing" in events[-1].message


def test_collapse_is_a_warning_once() -> None:
    watch, bicubic = CollapseWatch(), Score(30.0, 0.9)
    climbing = [watch.check(Score(psnr, 0.3), bicubic) for psnr in (5.0, 8.0, 11.0, 14.0)]
    assert climbing == [None] * 4  # far below bicubic but learning: not a collapse
    stuck = [watch.check(Score(8.3, 0.3), bicubic) for _ in range(COLLAPSE_COUNT + 2)]
    assert [message is not None for message in stuck] == [False, False, True, False, False]
    assert "collapsed" in stuck[2] and "8.3" in stuck[2]


def test_collapse_reaches_the_event_stream(config: TrainConfig) -> None:
    trainer = Trainer(config.replace(perceptual_weight=0, steps=6, pretrain_steps=6, val_every=1))
    trainer.gan.super_resolve = lambda lr: torch.zeros(lr.shape[0], lr.shape[1], lr.shape[2] * 4, lr.shape[3] * 4)
    events = run_all(trainer)
    warnings = [e for e in of_type(events, ev.TrainWarning) if e.code == "collapse"]
    assert len(warnings) == 1 and warnings[0].step == COLLAPSE_COUNT + 1


def test_a_full_disk_is_named_and_the_folder_stays_consistent(config: TrainConfig,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """torch.save on a full disk says 'unexpected pos'; the run says 'No space left on device' and names
    the file, and best.safetensors never claims a step the checkpoint does not hold."""
    real_save, calls = torch.save, 0

    def save_until_full(obj: Any, path: Any, *args: Any, **kwargs: Any) -> None:
        nonlocal calls
        calls += 1
        if calls >= 3:
            raise RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 64 vs 0")
        real_save(obj, path, *args, **kwargs)

    monkeypatch.setattr(torch, "save", save_until_full)
    monkeypatch.setattr("engine.io.atomic.FULL_DISK_BYTES", 1 << 62)  # every disk looks full after a failure
    events = run_all(Trainer(config.replace(perceptual_weight=0)))
    finished = events[-1]
    assert finished.reason == "failed"
    assert "No space left on device" in finished.message and "checkpoint.pt" in finished.message
    folder = Path(config.out_dir)
    checkpoint_step = load_checkpoint(folder / "checkpoint.pt")["components"]["best"]["step"]
    assert int(read_metadata(folder / "best.safetensors")["steps"]) == checkpoint_step
    assert not [p for p in folder.iterdir() if p.name.endswith(".tmp")]
    assert str(DiskFullError(folder / "x")) == f"No space left on device: could not write {folder / 'x'}"


def test_stop_between_the_d_and_g_updates_ends_before_the_next_step(config: TrainConfig) -> None:
    trainer = Trainer(config.replace(perceptual_weight=0, steps=6, pretrain_steps=0))
    d_update = trainer.gan._discriminator_update

    def d_update_then_stop(*args: Any) -> tuple[float, float]:
        result = d_update(*args)
        if trainer.step == 2:
            trainer.request_stop()  # as the window's Stop button would, from another thread
        return result

    trainer.gan._discriminator_update = d_update_then_stop
    events = run_all(trainer)
    assert [e.step for e in of_type(events, ev.StepMetrics)] == [1, 2]
    assert (events[-1].reason, events[-1].step) == ("stopped", 2)
    assert load_checkpoint(Path(config.out_dir) / "checkpoint.pt")["progress"]["step"] == 2


def test_stop_during_a_validation_does_not_wait_for_it(config: TrainConfig) -> None:
    trainer = Trainer(config.replace(perceptual_weight=0, steps=6, pretrain_steps=6, val_every=3))
    super_resolve, calls = trainer.gan.super_resolve, []

    def slow_crop(lr: torch.Tensor) -> torch.Tensor:
        calls.append(trainer.step)
        if trainer.step == 3:
            trainer.request_stop()  # pressed while the step-3 validation runs
        return super_resolve(lr)

    trainer.gan.super_resolve = slow_crop
    events = run_all(trainer)
    assert calls.count(3) == 1  # the validation's other crops were not computed
    assert [v.step for v in of_type(events, ev.Validation)] == [1]
    assert (events[-1].reason, events[-1].step) == ("stopped", 3)


def weights_after(config: TrainConfig) -> dict[str, torch.Tensor]:
    state = load_checkpoint(Path(config.out_dir) / "checkpoint.pt")["gan"]
    return {f"{part}.{key}": value for part in ("generator", "ema", "discriminator")
            for key, value in state[part].items()}


def assert_same_weights(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> None:
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key


def as_format_2(path: Path) -> None:
    """Rewrite a checkpoint in the layout of format 2, which flattened the loop's components into "progress"
    and kept the best weights at the top level."""
    state = load_checkpoint(path)
    parts = state.pop("components")
    best = parts["best"]
    state["progress"].update(best_psnr=best["psnr"], best_step=best["step"], last_validation=best["last_validation"],
                             collapse=[parts["collapse"]["below"], parts["collapse"]["previous"]], **parts["rollback"],
                             **parts["frozen"])
    state.update(format_version=2, best_generator=best["generator"])
    del state["checksum"]
    save_checkpoint(path, state)


@pytest.mark.parametrize("layout", ["current", "format 2"])
def test_ten_plus_ten_steps_equal_twenty_to_the_last_bit(config: TrainConfig, tmp_path: Path, layout: str) -> None:
    base = config.replace(lr_schedule="constant", steps=20, pretrain_steps=4, val_every=5, checkpoint_every=7,
                          adversarial_loss="wgan-gp")  # the gradient penalty draws from torch's RNG
    straight = base.replace(out_dir=str(tmp_path / "straight"))
    run_all(Trainer(straight))
    split = base.replace(out_dir=str(tmp_path / "split"), steps=10)
    run_all(Trainer(split))
    if layout == "format 2":  # a run saved by the previous version is listed and resumes exactly too
        listed = read_run(split.out_dir)
        as_format_2(Path(split.out_dir) / "checkpoint.pt")
        assert load_checkpoint(Path(split.out_dir) / "checkpoint.pt")["format_version"] == 2
        assert (read_run(split.out_dir).best_psnr, read_run(split.out_dir).best_step) == (listed.best_psnr,
                                                                                          listed.best_step)
    resumed = config_to_resume(split.out_dir, steps=20)
    assert resumed.steps == 20 and resumed.out_dir == split.out_dir
    events = run_all(Trainer(resumed, resume=True))
    assert events[-1].reason == "completed" and events[-1].step == 20
    assert_same_weights(weights_after(straight), weights_after(split))
    bests = [load_checkpoint(Path(run.out_dir) / "checkpoint.pt")["components"]["best"] for run in (straight, split)]
    assert [(best["psnr"], best["step"]) for best in bests[1:]] == [(bests[0]["psnr"], bests[0]["step"])]
    assert_same_weights(bests[0]["generator"], bests[1]["generator"])


def test_stop_and_resume_equal_an_uninterrupted_run(config: TrainConfig, tmp_path: Path) -> None:
    base = config.replace(steps=12, pretrain_steps=3, val_every=4, checkpoint_every=5)  # cosine schedule
    straight = base.replace(out_dir=str(tmp_path / "straight"))
    run_all(Trainer(straight))
    stopped = base.replace(out_dir=str(tmp_path / "stopped"))
    trainer = Trainer(stopped)
    run_all(trainer, lambda e: trainer.request_stop() if isinstance(e, ev.StepMetrics) and e.step == 6 else None)
    run_all(Trainer(config_to_resume(stopped.out_dir), resume=True))
    assert_same_weights(weights_after(straight), weights_after(stopped))


def stop_after_d_update(trainer: Trainer, at_step: int) -> None:
    d_update = trainer.gan._discriminator_update

    def update_then_stop(*args: Any) -> tuple[float, float]:
        result = d_update(*args)
        if trainer.step == at_step:
            trainer.request_stop()  # the discriminator's update is done: it must be undone
        return result

    trainer.gan._discriminator_update = update_then_stop


def stop_in_g_backward(trainer: Trainer, at_step: int) -> None:
    pixel_loss = trainer.gan.pixel_loss

    def loss_whose_gradient_stops(sr: torch.Tensor, hr: torch.Tensor) -> torch.Tensor:
        loss = pixel_loss(sr, hr)
        if trainer.step == at_step:
            loss.register_hook(lambda gradient: trainer.request_stop())  # pressed as G's backward pass begins
        return loss

    trainer.gan.pixel_loss = loss_whose_gradient_stops


@pytest.mark.parametrize("stop_inside", [stop_after_d_update, stop_in_g_backward])
def test_a_stop_inside_a_step_undoes_it_and_resumes_exactly(config: TrainConfig, tmp_path: Path, stop_inside) -> None:
    base = config.replace(lr_schedule="constant", steps=9, pretrain_steps=2, val_every=4, checkpoint_every=100,
                          adversarial_loss="wgan-gp")  # the gradient penalty draws from torch's RNG
    straight = base.replace(out_dir=str(tmp_path / "straight"))
    run_all(Trainer(straight))
    stopped = base.replace(out_dir=str(tmp_path / "stopped"))
    trainer = Trainer(stopped)
    stop_inside(trainer, 5)  # during step 6, in the GAN phase
    events = run_all(trainer)
    assert (events[-1].reason, events[-1].step) == ("stopped", 5)
    assert [e.step for e in of_type(events, ev.StepMetrics)] == [1, 2, 3, 4, 5]
    run_all(Trainer(config_to_resume(stopped.out_dir), resume=True))
    assert_same_weights(weights_after(straight), weights_after(stopped))


def test_ctrl_c_in_the_gan_phase_exits_promptly(image_folder: Path, tmp_path: Path) -> None:
    """A real SIGINT to a real CLI process, mid-run in the GAN phase: out at once, checkpoint written.
    (bench/train_speed.py measures the latency on the default settings; this bound only catches a hang.)"""
    out = tmp_path / "run"
    settings = [f"{key}={value}" for key, value in {**TINY_SETTINGS, "val_every": 1000}.items()]
    import subprocess
    import sys

    process = subprocess.Popen([sys.executable, "-m", "engine", "train", "--data", str(image_folder), "--out",
                                str(out), "--steps", "100000", "--set", *settings],
                               cwd=Path(__file__).resolve().parents[1], stderr=subprocess.PIPE, text=True,
                               env={**os.environ, "OMP_NUM_THREADS": "1"})
    for line in process.stderr:  # tqdm's bar: wait until the GAN phase is running
        if "phase=gan" in line:
            break
    time.sleep(1.0)
    started = time.perf_counter()
    process.send_signal(signal.SIGINT)
    code = process.wait(timeout=30)
    elapsed = time.perf_counter() - started
    assert code == 130 and elapsed < 15, elapsed
    state = load_checkpoint(out / "checkpoint.pt")
    assert state["progress"]["step"] > 1 and (out / "generator.safetensors").is_file()


def test_a_second_trainer_on_a_busy_folder_is_refused(config: TrainConfig, capsys: pytest.CaptureFixture[str]) -> None:
    first = Trainer(config.replace(perceptual_weight=0))
    code = main(["train", "--data", config.data_dir, "--out", config.out_dir, "--set",
                 *(f"{key}={value}" for key, value in TINY_SETTINGS.items())])
    assert code == 2 and "another process is training in" in capsys.readouterr().err
    assert run_all(first)[-1].reason == "completed"
