"""The training loop: a generator of plain-data events, so the window, the command line and the
tests drive the same code and never share tensors with it.

Phases: "pretrain" (pixel loss only, D idle) then "gan" (a D step, then a G step on pixel +
perceptual + adversarial loss). A non-finite loss rolls back to the last good state with half the
learning rate; every run, however it ends, leaves a checkpoint and an exported generator.
"""

from __future__ import annotations

import contextlib
import copy
import math
import random
import threading
import time
from collections import deque
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from engine import events as ev
from engine.archs import DISCRIMINATORS, build_generator
from engine.checkpoint import (CHECKPOINT_NAME, capture_rng, cpu_state, load_checkpoint, restore_rng,
                               save_checkpoint, value_range_of)
from engine.config import ConfigError, TrainConfig
from engine.data import (SAMPLE_CROP, VAL_CROP, TrainingData, batch_stream, center_crop, downscale, to_tensor,
                         to_uint8, upscale_bicubic)
from engine.device import resolve_device
from engine.distributed import SINGLE, ProcessGroup
from engine.export import export_generator
from engine.losses import adversarial_loss, discriminator_stuck, gradient_penalty, pixel_loss
from engine.metrics import psnr_y, ssim_y
from engine.perceptual import build_perceptual_loss, missing_weights_message
from engine.samples import save_sample_figure

Event = Any  # one of the dataclasses in engine.events
MAX_ROLLBACKS = 3  # consecutive rollbacks without reaching a new good state before the run gives up
STUCK_WINDOW = 100  # GAN steps over which a useless discriminator is detected
SPEED_SMOOTHING = 0.9


class RunExistsError(ValueError):
    """The output folder already holds a run; resuming or another folder are the choices."""


class NonFiniteLoss(Exception):
    def __init__(self, term: str) -> None:
        super().__init__(term)
        self.term = term


class EMA:
    """An exponential moving average of the generator's weights: smoother results than the raw weights
    of an oscillating GAN, at the cost of one extra copy."""

    def __init__(self, model: nn.Module, decay: float) -> None:
        self.model = copy.deepcopy(model).eval().requires_grad_(False)
        self.decay = decay

    def decay_at(self, step: int) -> float:
        """The full decay from the start would keep the random initial weights in the average for
        thousands of steps (0.999**1000 = 37%), and early validation would show a model worse than the
        one being trained; warming the decay up lets the average follow the first steps closely."""
        return min(self.decay, (1 + step) / (10 + step))

    @torch.no_grad()
    def update(self, model: nn.Module, step: int) -> None:
        decay = self.decay_at(step)
        for ema_p, p in zip(self.model.parameters(), model.parameters()):
            ema_p.lerp_(p, 1.0 - decay)
        for ema_b, b in zip(self.model.buffers(), model.buffers()):
            ema_b.copy_(b)


def build_discriminator(config: TrainConfig) -> nn.Module:
    if config.discriminator == "classic":
        return DISCRIMINATORS["classic"](config.channels, spectral=config.spectral_norm,
                                         minibatch_stddev=config.minibatch_stddev)
    return DISCRIMINATORS[config.discriminator](config.channels, config.disc_features, spectral=config.spectral_norm,
                                                minibatch_stddev=config.minibatch_stddev)


def generator_spec(config: TrainConfig) -> dict[str, Any]:
    if config.generator == "classic":
        return {"arch": "classic", "in_channels": config.channels, "scale": config.scale}
    return {"arch": "compact", "in_channels": config.channels, "num_feat": config.gen_features,
            "num_conv": config.gen_blocks, "scale": config.scale}


def schedule_factor(config: TrainConfig, step: int) -> float:
    """The LR multiplier at `step`: the schedule restarts with each phase, since the GAN phase is a new
    optimisation problem rather than the tail of pretraining."""
    start, end = (0, config.pretrain_steps) if step < config.pretrain_steps else (config.pretrain_steps, config.steps)
    progress = (step - start) / max(1, end - start)
    if config.lr_schedule == "cosine":
        return 0.5 * (1.0 + math.cos(math.pi * progress))
    if config.lr_schedule == "step":
        return 0.5 ** sum(progress >= milestone for milestone in (0.5, 0.75))
    return 1.0


def resolve_run_config(config: TrainConfig, resume: bool) -> tuple[TrainConfig, dict[str, Any] | None]:
    """The config a run uses and the checkpoint it resumes. When resuming, the stored config wins
    except `steps`, so a finished run can be trained longer."""
    path = Path(config.out_dir) / CHECKPOINT_NAME
    if not resume:
        if path.exists():
            raise RunExistsError(f"{config.out_dir} already holds a run ({CHECKPOINT_NAME}); resume it or choose "
                                 f"another output folder")
        return config, None
    state = load_checkpoint(path)
    stored = TrainConfig.from_dict(state["config"])
    return stored.replace(steps=config.steps, pretrain_steps=min(stored.pretrain_steps, config.steps)), state


def load_initial_weights(generator: nn.Module, source: str) -> None:
    """Copy a pretrained generator's weights (an export, or a checkpoint's EMA) into `generator`;
    a file of another architecture or size is refused with a message naming both."""
    from engine.models import load_model  # the registry reads every format we write, without pickle

    loaded = load_model(source, device=torch.device("cpu")).module
    try:
        generator.load_state_dict(loaded.state_dict())
    except RuntimeError:
        raise ConfigError(f"init_generator {source} does not match this run's generator "
                          f"({generator.spec()}); train with the same architecture and size") from None


class Trainer:
    """One training run. Construction checks everything that can be checked up front (data, VGG
    weights, an existing run) and raises a ValueError subclass with a clear message; `run()` then never
    raises: whatever happens ends with a `Finished` event.
    """

    def __init__(self, config: TrainConfig, resume: bool = False, feature_net: nn.Sequential | None = None,
                 group: ProcessGroup = SINGLE) -> None:
        self.config, self._resume_state = resolve_run_config(config, resume)
        config = self.config
        self.group = group  # under torchrun: this process's rank; only rank 0 validates and writes files
        self.out_dir = Path(config.out_dir)
        self.checkpoint_path = self.out_dir / CHECKPOINT_NAME
        self.device = group.device(resolve_device(config.device))
        self._stop = threading.Event()
        random.seed(config.seed)
        np.random.seed(config.seed)
        torch.manual_seed(config.seed)

        self.data = TrainingData.load(config)
        self.generator = build_generator(generator_spec(config))
        if config.init_generator and self._resume_state is None:
            load_initial_weights(self.generator, config.init_generator)
        self.generator.to(self.device)
        self.discriminator = build_discriminator(config).to(self.device)
        self.value_range = value_range_of(self.generator)
        self.ema = EMA(self.generator, config.ema_decay) if config.ema_decay > 0 else None
        betas = (config.beta1, config.beta2)
        self.opt_g = torch.optim.Adam(self.generator.parameters(), lr=config.lr_g, betas=betas)
        self.opt_d = torch.optim.Adam(self.discriminator.parameters(), lr=config.lr_d, betas=betas)
        self.pixel_loss = pixel_loss(config.pixel_loss)
        self.adversarial = adversarial_loss(config.adversarial_loss)
        perceptual = build_perceptual_loss(config, self.value_range, feature_net)
        self.perceptual = perceptual.to(self.device) if perceptual is not None else None

        cuda = self.device.type == "cuda"
        self.amp_dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(config.precision) if cuda else None
        self.scaler_g = torch.amp.GradScaler(self.device.type, enabled=self.amp_dtype is torch.float16)
        self.scaler_d = torch.amp.GradScaler(self.device.type, enabled=self.amp_dtype is torch.float16)
        self.memory_format = torch.channels_last if cuda and config.channels_last else torch.preserve_format
        if self.memory_format is torch.channels_last:
            self.generator.to(memory_format=torch.channels_last)
            self.discriminator.to(memory_format=torch.channels_last)
        # What the optimisation steps call: the same modules, averaging gradients over processes under torchrun.
        self._train_generator = group.wrap(self.generator, self.device)
        self._train_discriminator = group.wrap(self.discriminator, self.device)

        self.step = 0
        self.lr_scale = 1.0  # halved by each rollback
        self.history: list[dict[str, Any]] = []
        self.best_psnr = -math.inf
        self.last_validation: dict[str, float] | None = None
        self._rollbacks = 0
        self._good_state: dict[str, Any] | None = None
        self._d_window: deque[float] = deque(maxlen=STUCK_WINDOW)
        self._val = self._validation_set()
        if self._resume_state is not None:
            self._restore(self._resume_state)

    # ------------------------------------------------------------------ public
    def request_stop(self) -> None:
        """Ask the run to end after the current step (thread-safe); it still checkpoints and exports."""
        self._stop.set()

    def run(self) -> Iterator[Event]:
        """Yield events until the run ends; `Finished` is always last.

        After a resume, `self.history` holds the stored curves (plain dicts with a "kind" of "step" or
        "validation") and the first new StepMetrics is step `Resumed.step + 1`.
        """
        try:
            yield from self._startup_events()
            yield from self._loop()
        except NonFiniteLoss as exc:  # the checkpoint on disk is the last good state: keep it
            yield from self._finish("failed", f"{exc.term} kept going NaN/inf after {MAX_ROLLBACKS} rollbacks "
                                              f"with lower learning rates", None)
        except Exception as exc:  # noqa: BLE001 - any failure must still end in Finished with a reason
            yield from self._finish("failed", f"{type(exc).__name__}: {exc}", "error")
        else:
            if self.step < self.config.steps:
                yield from self._finish("stopped", "", "stop")
            else:
                yield from self._finish("completed", "", "final")

    # ------------------------------------------------------------------ setup
    def _validation_set(self) -> list[tuple[torch.Tensor, np.ndarray, np.ndarray]]:
        """(lr tensor, hr uint8, bicubic uint8) per held-out image; deterministic center crops."""
        items = []
        for image in self.data.val.images:
            hr = center_crop(image, VAL_CROP, self.config.scale)
            lr = downscale(to_tensor(hr), self.config.scale, self.config.antialias)
            items.append((lr, hr, to_uint8(upscale_bicubic(lr, self.config.scale))))
        border = self.config.scale
        self.bicubic_psnr = float(np.mean([psnr_y(bic, hr, border) for _, hr, bic in items]))
        self.bicubic_ssim = float(np.mean([ssim_y(bic, hr, border) for _, hr, bic in items]))
        sample_hr = center_crop(self.data.val.images[0], SAMPLE_CROP, self.config.scale)
        self._sample_lr = downscale(to_tensor(sample_hr), self.config.scale, self.config.antialias)
        self._sample_hr = sample_hr
        return items

    def _startup_events(self) -> Iterator[Event]:
        if self._resume_state is not None:
            yield ev.Resumed(step=self.step, path=str(self.checkpoint_path), history=tuple(copy.deepcopy(self.history)))
        for message in self.data.skipped:
            yield ev.TrainWarning(step=self.step, code="skipped-file", message=message)
        if self.data.val_is_training_image:
            yield ev.TrainWarning(step=self.step, code="no-validation-images", message="no held-out image was "
                                  "usable, so validation uses a training image: its numbers will be optimistic")
        if self.perceptual is None and self.config.perceptual_weight > 0:
            yield ev.TrainWarning(step=self.step, code="no-vgg-weights", message=missing_weights_message(self.config))
        if self.group.is_main:
            self.out_dir.mkdir(parents=True, exist_ok=True)
        self._good_state = self._capture()

    # ------------------------------------------------------------------ the loop
    def _phase(self, step: int) -> str:
        return "pretrain" if step < self.config.pretrain_steps else "gan"

    def _batches(self, offset: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """Crops seeded by the step (and rollbacks), so a resumed run draws fresh ones; each process its own."""
        seed = self.group.seed(self.config.seed + offset)
        return batch_stream(self.data.train.images, self.config, seed, self.device)

    def _stop_requested(self) -> bool:
        return self.group.any(self._stop.is_set(), self.device)

    def _loop(self) -> Iterator[Event]:
        config = self.config
        batches = self._batches(self.step)
        phase = None
        speed = 0.0
        while self.step < config.steps and not self._stop_requested():
            if self._phase(self.step) != phase:
                if phase is not None:
                    yield from self._save("phase")
                phase = self._phase(self.step)
                yield ev.PhaseChanged(step=self.step, phase=phase)
            started = time.perf_counter()
            hr, lr = next(batches)
            try:
                metrics = self._train_step(hr, lr, phase)
            except NonFiniteLoss as exc:
                yield from self._rollback(exc)
                batches = self._batches(self.step + 1000 * self._rollbacks)
                continue
            self.step += 1
            rate = config.batch_size / max(time.perf_counter() - started, 1e-9)
            speed = rate if speed == 0 else SPEED_SMOOTHING * speed + (1 - SPEED_SMOOTHING) * rate
            yield from self._after_step(phase, metrics, speed)

    def _after_step(self, phase: str, metrics: dict[str, Any], speed: float) -> Iterator[Event]:
        config, step = self.config, self.step
        eta = (config.steps - step) * config.batch_size / speed if speed > 0 else 0.0
        record = {"kind": "step", "step": step, "phase": phase, **metrics,
                  "lr_g": self.opt_g.param_groups[0]["lr"], "lr_d": self.opt_d.param_groups[0]["lr"]}
        self.history.append(record)
        if step % config.log_every == 0:
            yield ev.StepMetrics(step=step, total_steps=config.steps, phase=phase, losses=metrics["losses"],
                                 d_real=metrics["d_real"], d_fake=metrics["d_fake"], lr_g=record["lr_g"],
                                 lr_d=record["lr_d"], samples_per_s=speed, eta_s=eta)
        if phase == "gan":
            yield from self._watch_discriminator(metrics["losses"]["d_loss"])
        if self.group.is_main and (step % config.val_every == 0 or step == config.steps):
            yield from self._validate()
        if self.group.is_main and config.sample_every and step % config.sample_every == 0:
            save_sample_figure(self.out_dir / "samples" / f"step_{step:06d}.png",
                               [(to_uint8(lr), self._super_resolve(lr), hr) for lr, hr, _ in self._val[:4]])
        if step % config.checkpoint_every == 0:
            yield from self._save("periodic")

    def _set_learning_rates(self) -> None:
        factor = schedule_factor(self.config, self.step) * self.lr_scale
        for optimizer, base in ((self.opt_g, self.config.lr_g), (self.opt_d, self.config.lr_d)):
            for group in optimizer.param_groups:
                group["lr"] = base * factor

    def _autocast(self) -> contextlib.AbstractContextManager[Any]:
        if self.amp_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.amp_dtype)

    def _to_model(self, batch: torch.Tensor) -> torch.Tensor:
        low, high = self.value_range
        batch = batch.to(self.device, non_blocking=True, memory_format=self.memory_format)
        return batch * (high - low) + low

    def _train_step(self, hr: torch.Tensor, lr: torch.Tensor, phase: str) -> dict[str, Any]:
        """One optimisation step; raises NonFiniteLoss (naming the term) before any bad update."""
        self._set_learning_rates()
        hr, lr = self._to_model(hr), self._to_model(lr)
        self.generator.train()
        losses: dict[str, torch.Tensor] = {}
        d_real = d_fake = None
        with self._autocast():
            sr = self._train_generator(lr)
        if phase == "gan":
            d_real, d_fake = self._discriminator_step(hr, sr, losses)
        with self._autocast():
            losses["g_pixel"] = self.config.pixel_weight * self.pixel_loss(sr.float(), hr)
            if phase == "gan" and self.perceptual is not None:
                losses["g_perceptual"] = self.perceptual(sr.float(), hr)
            if phase == "gan":
                self.discriminator.requires_grad_(False)
                fake_logits = self.discriminator(sr).float()
                real_logits = self.discriminator(hr).float().detach() if self.adversarial.g_needs_real else None
                losses["g_adversarial"] = self.config.adversarial_weight * self.adversarial.g(real_logits, fake_logits)
                self.discriminator.requires_grad_(True)
        g_terms = [name for name in losses if name.startswith("g_")]
        losses["g_loss"] = sum(losses[name] for name in g_terms)
        self._check_finite(losses, g_terms)
        self._optimise(self.opt_g, self.scaler_g, losses["g_loss"], self.generator)
        if self.ema is not None:
            self.ema.update(self.generator, self.step)
        values = {name: float(value.detach()) for name, value in losses.items()}
        return {"losses": values, "d_real": d_real, "d_fake": d_fake}

    def _discriminator_step(self, hr: torch.Tensor, sr: torch.Tensor,
                            losses: dict[str, torch.Tensor]) -> tuple[float, float]:
        self.discriminator.train()
        fake = sr.detach()
        with self._autocast():
            real_logits = self._train_discriminator(hr).float()
            fake_logits = self._train_discriminator(fake).float()
            losses["d_adversarial"] = self.adversarial.d(real_logits, fake_logits)
        if self.adversarial.uses_gradient_penalty:
            losses["d_gp"] = self.config.gp_weight * gradient_penalty(self.discriminator, hr, fake)
        d_terms = [name for name in losses if name.startswith("d_")]
        losses["d_loss"] = sum(losses[name] for name in d_terms)
        self._check_finite(losses, d_terms)
        self._optimise(self.opt_d, self.scaler_d, losses["d_loss"], self.discriminator)
        score = torch.sigmoid if self.adversarial.probabilities else (lambda t: t)
        return float(score(real_logits.detach()).mean()), float(score(fake_logits.detach()).mean())

    def _optimise(self, optimizer: torch.optim.Optimizer, scaler: torch.amp.GradScaler, loss: torch.Tensor,
                  model: nn.Module) -> None:
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        if self.config.grad_clip > 0:
            scaler.unscale_(optimizer)
            nn.utils.clip_grad_norm_(model.parameters(), self.config.grad_clip)
        scaler.step(optimizer)
        scaler.update()

    def _check_finite(self, losses: dict[str, torch.Tensor], names: list[str]) -> None:
        """Raise NonFiniteLoss before any bad update; under torchrun every process rolls back together."""
        bad = next((name for name in names if not torch.isfinite(losses[name]).all()), None)
        if self.group.any(bad is not None, self.device):
            raise NonFiniteLoss(bad or f"a loss of another process ({', '.join(names)})")

    def _watch_discriminator(self, d_loss: float) -> Iterator[Event]:
        self._d_window.append(d_loss)
        if len(self._d_window) == STUCK_WINDOW:
            reason = discriminator_stuck(list(self._d_window), self.config.adversarial_loss)
            if reason:
                yield ev.TrainWarning(step=self.step, code="d-stuck", message=f"{reason} over the last "
                                      f"{STUCK_WINDOW} steps")
                self._d_window.clear()

    # ------------------------------------------------------------------ validation
    def _eval_generator(self) -> nn.Module:
        return self.ema.model if self.ema is not None else self.generator

    @torch.inference_mode()
    def _super_resolve(self, lr: torch.Tensor) -> np.ndarray:
        model = self._eval_generator()
        was_training = model.training
        model.eval()
        low, high = self.value_range
        with self._autocast():
            out = model(self._to_model(lr)).float()
        model.train(was_training)
        return to_uint8((out - low) / (high - low))

    def _validate(self) -> Iterator[Event]:
        border = self.config.scale
        outputs = [(self._super_resolve(lr), hr) for lr, hr, _ in self._val]
        psnr = float(np.mean([psnr_y(sr, hr, border) for sr, hr in outputs]))
        ssim = float(np.mean([ssim_y(sr, hr, border) for sr, hr in outputs]))
        is_best = psnr > self.best_psnr
        self.last_validation = {"psnr": psnr, "ssim": ssim, "bicubic_psnr": self.bicubic_psnr,
                                "bicubic_ssim": self.bicubic_ssim}
        self.history.append({"kind": "validation", "step": self.step, "psnr": psnr, "ssim": ssim,
                             "bicubic_psnr": self.bicubic_psnr, "bicubic_ssim": self.bicubic_ssim})
        if is_best:
            self.best_psnr = psnr
            self._export(self.out_dir / "best.safetensors")
        yield ev.Validation(step=self.step, psnr=psnr, ssim=ssim, bicubic_psnr=self.bicubic_psnr,
                            bicubic_ssim=self.bicubic_ssim, is_best=is_best)
        lr = self._sample_lr
        yield ev.Samples(step=self.step, lr=to_uint8(lr), bicubic=to_uint8(upscale_bicubic(lr, self.config.scale)),
                         sr=self._super_resolve(lr), hr=self._sample_hr)

    # ------------------------------------------------------------------ state
    def _capture(self) -> dict[str, Any]:
        """Everything needed to continue this run, as CPU copies (also the in-memory rollback point)."""
        return {
            "config": self.config.to_dict(), "generator_spec": generator_spec(self.config),
            "generator": cpu_state(self.generator), "ema": cpu_state(self.ema.model) if self.ema else None,
            "discriminator": cpu_state(self.discriminator), "opt_g": cpu_state(self.opt_g),
            "opt_d": cpu_state(self.opt_d), "scaler_g": self.scaler_g.state_dict(),
            "scaler_d": self.scaler_d.state_dict(), "schedule": {"lr_scale": self.lr_scale}, "step": self.step,
            "rng": capture_rng(), "history": copy.deepcopy(self.history), "best_psnr": self.best_psnr,
            "last_validation": self.last_validation,
        }

    def _restore(self, state: dict[str, Any]) -> None:
        self.generator.load_state_dict(state["generator"])
        if self.ema is not None and state["ema"] is not None:
            self.ema.model.load_state_dict(state["ema"])
        self.discriminator.load_state_dict(state["discriminator"])
        self.opt_g.load_state_dict(state["opt_g"])
        self.opt_d.load_state_dict(state["opt_d"])
        if state["scaler_g"]:
            self.scaler_g.load_state_dict(state["scaler_g"])
            self.scaler_d.load_state_dict(state["scaler_d"])
        self.lr_scale = state["schedule"]["lr_scale"]
        self.step = state["step"]
        self.history = copy.deepcopy(state["history"])
        self.best_psnr = state["best_psnr"]
        self.last_validation = state["last_validation"]
        restore_rng(state["rng"])

    def _save(self, reason: str) -> Iterator[Event]:
        """Checkpoint to disk; the same state becomes the rollback point."""
        self._good_state = self._capture()
        self._rollbacks = 0
        if not self.group.is_main:
            return
        save_checkpoint(self.checkpoint_path, self._good_state)
        yield ev.CheckpointSaved(step=self.step, path=str(self.checkpoint_path), reason=reason)

    def _rollback(self, exc: NonFiniteLoss) -> Iterator[Event]:
        self._rollbacks += 1
        if self._rollbacks > MAX_ROLLBACKS or self._good_state is None:
            raise exc
        failed_at = self.step
        self._restore(self._good_state)
        self.lr_scale *= 0.5
        self._set_learning_rates()
        self._d_window.clear()
        yield ev.TrainWarning(step=failed_at, code="non-finite", message=f"{exc.term} became NaN/inf at step "
                              f"{failed_at + 1}; back to step {self.step} with half the learning rate")
        yield ev.Rollback(step=failed_at, term=exc.term, to_step=self.step, lr_g=self.opt_g.param_groups[0]["lr"],
                          lr_d=self.opt_d.param_groups[0]["lr"])

    # ------------------------------------------------------------------ the end
    def _export(self, path: Path) -> Path:
        extra = {"config": self.config.to_dict(), "steps": self.step, "phase": self._phase(max(0, self.step - 1)),
                 "best_psnr": self.best_psnr if math.isfinite(self.best_psnr) else None,
                 "last_validation": self.last_validation, "data": Path(self.config.data_dir).name}
        return export_generator(path, self._eval_generator().state_dict(), generator_spec(self.config),
                                self.value_range, extra=extra)

    def _finish(self, reason: str, message: str, save_reason: str | None) -> Iterator[Event]:
        """Final checkpoint (unless `save_reason` is None) and export (once any step was trained), then
        Finished, even when writing them fails."""
        export_path = None
        try:
            if save_reason is not None:
                yield from self._save(save_reason)
            if self.step > 0 and self.group.is_main:
                export_path = str(self._export(self.out_dir / "generator.safetensors"))
        except Exception as exc:  # noqa: BLE001 - a full disk must not hide how the run ended
            reason, message = "failed", f"{message}; could not write the results: {exc}".lstrip("; ")
        checkpoint = str(self.checkpoint_path) if self.checkpoint_path.exists() else None
        if not message:
            message = f"step {self.step} of {self.config.steps}"
        yield ev.Finished(step=self.step, reason=reason, message=message, export_path=export_path,
                          checkpoint_path=checkpoint)
