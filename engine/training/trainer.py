"""The training loop: a generator of plain-data events, so the window, the command line and the tests
drive the same code and never share tensors with it.

The trainer owns the loop, the learning-rate schedule, the run folder and the events; the networks and
the maths of one update live in engine/training/gan_step.py, and the parts that keep state across steps
(the best score, the rollback policy, the collapse and frozen watches) are components with their own
`state_dict`, which the checkpoint stores. Phases: "pretrain" (pixel loss only)
then "gan". The default run starts from a pretrained generator with no pixel phase, so the GAN's
curves move from the first step. A non-finite loss, weight or optimizer state rolls back to the last
good state with half the learning rate of the attempt that failed; every run, however it ends, leaves a
checkpoint and an exported generator. Batches are a function of (seed, step), so stopping and resuming
trains exactly what an uninterrupted run would.
"""

from __future__ import annotations

import contextlib
import math
import os
import random
import threading
from collections import deque
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from engine import events as ev
from engine.training.checkpoint import (capture_rng, component_states, cpu_state, load_checkpoint, restore_rng,
                                        save_checkpoint)
from engine.errors import ConfigError
from engine.training.config import TrainConfig
from engine.data.dataset import TrainingData, auto_workers, batch_stream, to_uint8
from engine.device import is_out_of_memory, resolve_device
from engine.training.distributed import SINGLE, ProcessGroup
from engine.models.export import ModelFileError, export_generator, read_metadata
from engine.training.best_score import BestScore
from engine.training.failures import BadUpdate
from engine.training.gan_step import GANStep, StopRequested
from engine.training.init_model import read_init_model
from engine.training.losses import discriminator_stuck
from engine.training.perceptual import missing_weights_message
from engine.training import tensorboard_log
from engine.training.run_folder import RunExistsError, RunFolder, absolute_paths, stored_form
from engine.training.progress_figure import save_sample_figure
from engine.training.rollback import MAX_ROLLBACKS, RollbackPolicy
from engine.training.step_clock import StepClock, ValidationTimer
from engine.training.validation import CollapseWatch, FrozenWatch, ValidationSet

STUCK_WINDOW = 100  # GAN steps over which a useless discriminator is detected


def schedule_factor(config: TrainConfig, step: int) -> float:
    """The LR multiplier at `step`: the schedule restarts with each phase, since the GAN phase is a new
    optimisation problem rather than the tail of pretraining."""
    pretraining = config.phase_at(step) == "pretrain"
    start, end = (0, config.pretrain_steps) if pretraining else (config.pretrain_steps, config.steps)
    progress = (step - start) / max(1, end - start)
    if config.lr_schedule == "cosine":
        return 0.5 * (1.0 + math.cos(math.pi * progress))
    if config.lr_schedule == "step":
        return 0.5 ** sum(progress >= milestone for milestone in (0.5, 0.75))
    return 1.0


class Trainer:
    """One training run. Construction checks everything that can be checked up front (data, VGG
    weights, an existing or busy run, a damaged checkpoint) and raises a ValueError subclass with a clear
    message; `run()` then never raises: whatever happens ends with a `Finished` event.

    `resume=True` continues the run in `config.out_dir` with `config` as given: build it with
    `engine.training.run_folder.config_to_resume`, the one rule the window and the command line share.
    """

    def __init__(self, config: TrainConfig, resume: bool = False, feature_net: nn.Sequential | None = None,
                 group: ProcessGroup = SINGLE) -> None:
        self.group = group  # under torchrun: this process's rank; only rank 0 validates and writes files
        self.folder = RunFolder(config.out_dir)
        self._exit = contextlib.ExitStack()  # holds the folder's lock until run() ends
        try:
            self._setup(config, resume, feature_net)
        except BaseException:
            self._exit.close()
            raise

    def _setup(self, config: TrainConfig, resume: bool, feature_net: nn.Sequential | None) -> None:
        group = self.group
        if group.is_main:
            self._exit.enter_context(self.folder.locked())
        state = self._resume_state(resume)
        self.device = group.device(resolve_device(config.device))
        self.init_note = ""
        init = read_init_model(config.init_source()) if state is None and config.init_source() else None
        if init is not None:  # a fresh run trains the architecture of its starting weights
            config, self.init_note = init.adopt(config)
        self.config = config = absolute_paths(config.for_device(self.device.type))
        self._stop = threading.Event()
        self._checkpoint_requested = threading.Event()
        random.seed(config.seed)
        np.random.seed(config.seed)
        torch.manual_seed(config.seed)

        self.data = TrainingData.load(config)
        try:
            self.gan = GANStep(config, self.device, group, feature_net, init)
        except (MemoryError, RuntimeError) as exc:
            if not is_out_of_memory(exc):
                raise
            raise ConfigError(f"not enough memory for the networks ({config.generator} generator, gen_features="
                              f"{config.gen_features}, gen_blocks={config.gen_blocks}; disc_features="
                              f"{config.disc_features}): choose smaller ones") from None
        self.validation = ValidationSet(self.data.val.images, config, self.data.val.lr)
        self.step = 0
        self.history: list[ev.HistoryRecord] = []
        self.best = BestScore()
        self.rollback = RollbackPolicy()
        self._collapse = CollapseWatch()
        self._frozen = FrozenWatch()
        self._d_window: deque[float] = deque(maxlen=STUCK_WINDOW)
        if state is not None:
            self._restore(state)

    def _resume_state(self, resume: bool) -> dict[str, Any] | None:
        if not resume:
            if self.folder.has_checkpoint():
                raise RunExistsError(f"{self.folder.root} already holds a run ({self.folder.checkpoint.name}); "
                                     f"resume it or choose another output folder")
            return None
        return load_checkpoint(self.folder.checkpoint)

    # ------------------------------------------------------------------ public
    @property
    def phase(self) -> str:
        return self.config.phase_at(self.step)

    def request_stop(self) -> None:
        """Ask the run to end (thread-safe): between two updates, so within a second; it still
        checkpoints and exports."""
        self._stop.set()

    def request_checkpoint(self) -> None:
        """Ask for a checkpoint (thread-safe): written after the step in progress, as CheckpointSaved with
        reason "requested", without stopping the run."""
        self._checkpoint_requested.set()

    def run(self) -> Iterator[ev.TrainEvent]:
        """Yield events until the run ends; `Finished` is always last.

        After a resume, `self.history` holds the stored curves (StepRecord and ValidationRecord) and the
        first new StepMetrics is step `Resumed.step + 1`. With `log_tensorboard`, rank 0
        also writes them as TensorBoard event files: here, so every front end gets them.
        """
        events = self._events()
        if self.config.log_tensorboard and self.group.is_main:
            events = tensorboard_log.logged(events, self.config, self.folder.root, self.step)
        yield from events

    def _events(self) -> Iterator[ev.TrainEvent]:
        with self._exit:
            try:
                yield from self._startup_events()
                yield from self._loop()
            except BadUpdate as exc:  # the checkpoint on disk is the last good state: keep it
                yield from self._finish("failed", f"{exc.term} {exc.repeated} after {MAX_ROLLBACKS} "
                                                  f"rollbacks, each with half the learning rate", None)
            except Exception as exc:  # noqa: BLE001 - any failure must still end in Finished with a reason
                yield from self._finish("failed", str(exc) if isinstance(exc, OSError) else
                                        f"{type(exc).__name__}: {exc}", "error")
            else:
                if self.step < self.config.steps:
                    yield from self._finish("stopped", "", "stop")
                else:
                    yield from self._finish("completed", "", "final")

    # ------------------------------------------------------------------ setup
    def _startup_events(self) -> Iterator[ev.TrainEvent]:
        damaged = ""
        if self.group.is_main:
            self.folder.remove_stale_temps()
            damaged = self._repair_best_export()
        if self.step > 0:
            yield ev.Resumed(step=self.step, path=str(self.folder.checkpoint),
                             history=tuple(self.history))
        if damaged:
            yield ev.TrainWarning(step=self.step, code="best-export-rebuilt", message=f"{damaged}; rebuilt from "
                                  f"the checkpoint's best weights (step {self.best.step})")
        if self.init_note:
            yield ev.TrainWarning(step=self.step, code="init-architecture", message=self.init_note)
        for message in self.data.skipped:
            yield ev.TrainWarning(step=self.step, code="skipped-file", message=message)
        if self.data.val_is_training_image:
            yield ev.TrainWarning(step=self.step, code="no-validation-images", message="no held-out image was "
                                  "usable, so validation uses a training image: its numbers will be optimistic")
        if self.config.workers > (os.cpu_count() or 1):
            yield ev.TrainWarning(step=self.step, code="workers-capped", message=f"workers={self.config.workers}"
                                  f" is more than this machine's {os.cpu_count() or 1} cores: using "
                                  f"{auto_workers(self.config.workers, self.device)}")
        if self.data.val_also_trained:
            yield ev.TrainWarning(step=self.step, code="validation-is-training-data",
                                  message=f"{self.data.val_also_trained} of the validation images in "
                                  f"{self.config.val_dir} are training images too: validation numbers will be "
                                  "optimistic; give val_dir a folder of other images")
        if self.gan.perceptual is None and self.config.perceptual_weight > 0:
            yield ev.TrainWarning(step=self.step, code="no-vgg-weights", message=missing_weights_message(self.config))
        if self.gan.perceptual_note:
            yield ev.TrainWarning(step=self.step, code="vgg-substituted", message=self.gan.perceptual_note)
        self.rollback.mark_good(self._capture())

    # ------------------------------------------------------------------ the loop
    def _batches(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """The batches of steps self.step + 1, ...: each process its own, a function of (seed, step)."""
        seed_key = (self.config.seed, self.group.rank, self.rollback.reshuffles)
        return batch_stream(self.data.train.images, self.config, seed_key, self.step + 1, self.device,
                            self.data.train.lr)

    def _stop_requested(self) -> bool:
        return self.group.any(self._stop.is_set(), self.device)

    def _loop(self) -> Iterator[ev.TrainEvent]:
        config = self.config
        batches = self._batches()
        phase = None
        clock = StepClock()
        self._val_timer = ValidationTimer(config.val_seconds)
        while self.step < config.steps and not self._stop_requested():
            if self.phase != phase:
                if phase is not None:
                    yield from self._save("phase")
                phase = self.phase
                yield ev.PhaseChanged(step=self.step, phase=phase)
            hr, lr = next(batches)
            self.gan.set_lr_factor(schedule_factor(config, self.step) * self.rollback.lr_scale)
            try:
                result = self.gan.step(hr, lr, phase, self.step, self._stop_requested)
                self.step += 1
                clock.tick()
                yield from self._after_step(phase, result, clock)
            except StopRequested:
                break
            except BadUpdate as exc:  # a NaN/inf update, or a generator found frozen at validation
                yield from self._roll_back(exc)
                batches = self._batches()

    def _after_step(self, phase: str, result: Any, clock: StepClock) -> Iterator[ev.TrainEvent]:
        config, step = self.config, self.step
        lr_g, lr_d = self.gan.learning_rates
        self.history.append(ev.StepRecord(step=step, phase=phase, losses=result.losses, d_real=result.d_real,
                                          d_fake=result.d_fake, lr_g=lr_g, lr_d=lr_d))
        if step % config.log_every == 0:
            yield ev.StepMetrics(step=step, total_steps=config.steps, phase=phase, losses=result.losses,
                                 d_real=result.d_real, d_fake=result.d_fake, lr_g=lr_g, lr_d=lr_d,
                                 steps_per_s=clock.steps_per_s, eta_s=clock.eta_s(config.steps - step))
        if phase == "gan":
            yield from self._watch_discriminator(result.losses["d_loss"])
        new_best = False
        by_steps = step == 1 or step % config.val_every == 0 or step == config.steps
        if self.group.is_main and (by_steps or self._val_timer.due()):
            new_best = yield from self._validate()
            self._val_timer.validated(timed=not by_steps)
        if self.group.is_main and config.sample_every and step % config.sample_every == 0:
            save_sample_figure(self.folder.sample_figure(step), self.validation.figure_rows(self._super_resolve))
        requested = self._checkpoint_requested.is_set()
        if step % config.checkpoint_every == 0 or self.group.any(new_best or requested, self.device):
            self._checkpoint_requested.clear()
            yield from self._save("requested" if requested else "periodic")

    def _watch_discriminator(self, d_loss: float) -> Iterator[ev.TrainEvent]:
        self._d_window.append(d_loss)
        if len(self._d_window) == STUCK_WINDOW:
            reason = discriminator_stuck(list(self._d_window), self.config.adversarial_loss)
            if reason:
                yield ev.TrainWarning(step=self.step, code="d-stuck", message=f"{reason} over the last "
                                      f"{STUCK_WINDOW} steps")
                self._d_window.clear()

    # ------------------------------------------------------------------ validation
    def _super_resolve(self, lr: torch.Tensor) -> torch.Tensor:
        """One validation crop through the generator, unless a stop was asked for: a validation of the
        classic recipe's full-resolution generator takes seconds, and Stop must not wait for it. (Under
        torchrun only rank 0 validates, so there the group's step-boundary decision must stand.)"""
        if self._stop.is_set() and not self.group.enabled:
            raise StopRequested()
        return self.gan.super_resolve(lr)

    def _validate(self) -> Iterator[ev.TrainEvent]:
        """Score the held-out crops; returns whether this is the best score so far (a generator that
        stopped changing raises FrozenGenerator: it is as stuck as a NaN)."""
        self._frozen.check(self.gan.fingerprint(), learning=self.gan.learning_rates[0] > 0)
        validation = self.validation
        score = validation.score(self._super_resolve)
        record = ev.ValidationRecord(step=self.step, psnr=score.psnr, ssim=score.ssim,
                                     bicubic_psnr=validation.bicubic.psnr, bicubic_ssim=validation.bicubic.ssim)
        self.history.append(record)
        numbers = {name: value for name, value in vars(record).items() if name != "step"}
        is_best = self.best.update(self.step, numbers, lambda: cpu_state(self.gan.eval_generator))
        yield ev.Validation(step=self.step, psnr=score.psnr, ssim=score.ssim, bicubic_psnr=validation.bicubic.psnr,
                            bicubic_ssim=validation.bicubic.ssim, is_best=is_best)
        warning = self._collapse.check(score, validation.bicubic)
        if warning:
            yield ev.TrainWarning(step=self.step, code="collapse", message=warning)
        crops = [ev.PreviewCrop(to_uint8(crop.lr), crop.bicubic, to_uint8(self._super_resolve(crop.lr)), crop.hr)
                 for crop in validation.previews]
        yield ev.Previews(step=self.step, crops=tuple(crops))
        return is_best

    # ------------------------------------------------------------------ state
    def _components(self) -> dict[str, BestScore | RollbackPolicy | CollapseWatch | FrozenWatch]:
        """The parts with state of their own: a checkpoint stores each under "components" and this name."""
        return {"best": self.best, "rollback": self.rollback, "collapse": self._collapse, "frozen": self._frozen}

    def _capture(self) -> dict[str, Any]:
        """Everything needed to continue this run, as CPU copies (also the in-memory rollback point)."""
        return {
            "config": stored_form(self.config).to_dict(), "generator_spec": self.gan.generator.spec(),
            "gan": self.gan.state_dict(), "progress": {"step": self.step, "history": ev.history_to_dicts(self.history)},
            "components": {name: part.state_dict() for name, part in self._components().items()},
            "rng": capture_rng(),
        }

    def _restore(self, state: dict[str, Any]) -> None:
        self.gan.load_state_dict(state["gan"])
        self.step = state["progress"]["step"]
        self.history = ev.history_from_dicts(state["progress"]["history"])
        stored = component_states(state)
        for name, part in self._components().items():
            part.load_state_dict(stored[name])
        restore_rng(state["rng"])

    def _save(self, reason: str) -> Iterator[ev.TrainEvent]:
        """Checkpoint to disk (then the best export it holds); the same state becomes the rollback point."""
        state = self._capture()
        self.rollback.mark_good(state)
        if not self.group.is_main:
            return
        save_checkpoint(self.folder.checkpoint, state)
        self._repair_best_export()
        yield ev.CheckpointSaved(step=self.step, path=str(self.folder.checkpoint), reason=reason)

    def _roll_back(self, exc: BadUpdate) -> Iterator[ev.TrainEvent]:
        good = self.rollback.next_attempt()
        if good is None:
            raise exc
        failed_at, failed_lr_scale = self.step, self.rollback.lr_scale
        self._restore(good)
        self.rollback.retried(failed_lr_scale)
        self.gan.set_lr_factor(schedule_factor(self.config, self.step) * self.rollback.lr_scale)
        self._d_window.clear()
        lr_g, lr_d = self.gan.learning_rates
        yield ev.TrainWarning(step=failed_at, code="rollback", message=f"{exc} at step {failed_at + 1}; back to "
                              f"step {self.step} with the learning rate halved (x{self.rollback.lr_scale:g} of "
                              f"the schedule's)")
        yield ev.Rollback(step=failed_at, term=exc.term, to_step=self.step, lr_g=lr_g, lr_d=lr_d, problem=exc.problem)

    # ------------------------------------------------------------------ exports and the end
    def _export(self, path: Path, state: dict[str, torch.Tensor], steps: int) -> Path:
        extra = {"config": stored_form(self.config).to_dict(), "steps": steps,
                 "phase": self.config.phase_at(steps - 1),  # that of the last update trained
                 "best_psnr": self.best.finite_psnr, "last_validation": self.best.last_validation, "data": Path(self.config.data_dir).name}
        return export_generator(path, state, self.gan.generator.spec(), self.gan.value_range, extra=extra)

    def _repair_best_export(self) -> str:
        """Make best.safetensors the best weights the checkpoint records (a crash or a full disk may have
        stopped it from being written after its checkpoint, or left it damaged); returns what was wrong with
        the file it replaced, "" when there was none or it was only out of date."""
        if self.best.generator is None:
            return ""
        best, damaged = self.folder.best, ""
        try:
            if best.is_file() and read_metadata(best).get("steps") == str(self.best.step):
                return ""
        except ModelFileError as exc:
            damaged = str(exc)
        self._export(best, self.best.generator, self.best.step)
        return damaged

    def _finish(self, reason: str, message: str, save_reason: str | None) -> Iterator[ev.TrainEvent]:
        """Final checkpoint (unless `save_reason` is None) and export (once any step was trained), then
        Finished, even when writing them fails."""
        export_path = None
        try:
            if save_reason is not None:
                yield from self._save(save_reason)
            if self.step > 0 and self.group.is_main:
                export_path = str(self._export(self.folder.generator, cpu_state(self.gan.eval_generator), self.step))
        except Exception as exc:  # noqa: BLE001 - a full disk must not hide how the run ended
            reason, message = "failed", f"{message}; could not write the results: {exc}".lstrip("; ")
        checkpoint = str(self.folder.checkpoint) if self.folder.has_checkpoint() else None
        if not message:
            message = f"step {self.step} of {self.config.steps}"
        yield ev.Finished(step=self.step, reason=reason, message=message, export_path=export_path,
                          checkpoint_path=checkpoint)

