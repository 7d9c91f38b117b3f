"""The networks of a run and one optimisation step on them (BasicSR's "model", Lightning's module).

`GANStep` owns the generator, its EMA, the discriminator, their optimisers and gradient scalers, and
the losses. `step()` is one update: in the "pretrain" phase the pixel loss alone; in the "gan" phase a
discriminator update, then a generator update on pixel + perceptual + adversarial loss. Nothing bad is
ever kept silently: a non-finite loss raises before its update, and a non-finite weight or optimizer
state (Adam's second moment overflows when a loss weight is absurd) raises right after it, so the
trainer can roll back. Saving composes: `state_dict()` is everything needed to continue.
"""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn
from torch.profiler import record_function

from engine.archs.discriminators import DISCRIMINATORS
from engine.archs.table import ARCHITECTURES
from engine.training.checkpoint import cpu_state
from engine.training.config import TrainConfig
from engine.training.distributed import SINGLE, ProcessGroup
from engine.training.failures import NonFiniteLoss
from engine.training.init_model import InitModel
from engine.training.interrupt import LayerChecks, StopRequested
from engine.training.losses import adversarial_loss, gradient_penalty, pixel_loss
from engine.training.perceptual import build_perceptual_loss

# The parts of a step, as labelled for torch.profiler (bench/train_speed.py reports time per part).
STEP_PARTS = ("G forward", "D update", "VGG forward", "D on G's output", "G backward + update")


def ema_decay_at(decay: float, step: int) -> float:
    """The full decay from the start would keep the random initial weights in the average for
    thousands of steps (0.999**1000 = 37%), and early validation would show a model worse than the
    one being trained; warming the decay up lets the average follow the first steps closely."""
    return min(decay, (1 + step) / (10 + step))


def averaged_generator(generator: nn.Module, decay: float) -> AveragedModel:
    """An exponential moving average of the generator's weights (buffers copied): smoother results than
    the raw weights of an oscillating GAN, at the cost of one extra copy. torch's EMA, its decay warmed up
    by step: update with `update_ema`. The averaged network is `.module`, which checkpoints store as "ema"."""

    def average(averaged: list[torch.Tensor], current: list[torch.Tensor], updates: torch.Tensor | int) -> None:
        get_ema_multi_avg_fn(ema_decay_at(decay, int(updates) - 1))(averaged, current, updates)

    ema = AveragedModel(generator, multi_avg_fn=average)
    ema.module.eval().requires_grad_(False)
    return ema


def update_ema(ema: AveragedModel, generator: nn.Module, step: int) -> None:
    """Average in the weights after `step` (0-based). The count of averaged models is the step's, so the
    warm-up goes on where a resumed run left it; it is never 0, which would copy instead of average."""
    ema.n_averaged.fill_(step + 1)
    ema.update_parameters(generator)


@dataclass(frozen=True)
class StepResult:
    """What one step measured: every loss term (g_pixel, g_perceptual, g_adversarial, g_loss, d_adversarial,
    d_gp, d_loss; absent when off in this phase) and D's mean verdict on real and generated crops."""

    losses: dict[str, float]
    d_real: float | None
    d_fake: float | None


def _all_finite(tensors: list[torch.Tensor]) -> bool:
    floats = [t for t in tensors if t.is_floating_point()]
    return not floats or bool(torch.stack([t.detach().float().abs().max() for t in floats]).isfinite().all())


class GANStep:
    """G, D, EMA, optimisers, scalers and losses of one run; see the module docstring."""

    def __init__(self, config: TrainConfig, device: torch.device, group: ProcessGroup = SINGLE,
                 feature_net: nn.Sequential | None = None, init: InitModel | None = None) -> None:
        self.config, self.device, self.group = config, device, group
        self.generator = ARCHITECTURES[config.generator].build(config.channels, config.scale, config.gen_features,
                                                               config.gen_blocks)
        if init is not None:  # the starting weights (init_generator), read once by the trainer
            init.load_into(self.generator)
        self.generator.to(device)
        self.discriminator = DISCRIMINATORS[config.discriminator](
            config.channels, config.disc_features, spectral=config.spectral_norm,
            minibatch_stddev=config.minibatch_stddev).to(device)
        self.value_range: tuple[float, float] = tuple(self.generator.value_range)  # type: ignore[assignment]
        self.ema = averaged_generator(self.generator, config.ema_decay) if config.ema_decay > 0 else None
        betas = (config.beta1, config.beta2)
        self.opt_g = torch.optim.Adam(self.generator.parameters(), lr=config.lr_g, betas=betas)
        self.opt_d = torch.optim.Adam(self.discriminator.parameters(), lr=config.lr_d, betas=betas)
        self.pixel_loss = pixel_loss(config.pixel_loss)
        self.adversarial = adversarial_loss(config.adversarial_loss)
        perceptual, self.perceptual_note = build_perceptual_loss(config, self.value_range, feature_net)
        self.perceptual = perceptual.to(device) if perceptual is not None else None

        cuda = device.type == "cuda"
        self.amp_dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(config.precision) if cuda else None
        self.scaler_g = torch.amp.GradScaler(device.type, enabled=self.amp_dtype is torch.float16)
        self.scaler_d = torch.amp.GradScaler(device.type, enabled=self.amp_dtype is torch.float16)
        self.memory_format = torch.channels_last if cuda and config.channels_last else torch.preserve_format
        if self.memory_format is torch.channels_last:
            self.generator.to(memory_format=torch.channels_last)
            self.discriminator.to(memory_format=torch.channels_last)
        # What the updates call: the same modules, averaging gradients over processes under torchrun.
        self._train_generator = group.wrap(self.generator, device)
        self._train_discriminator = group.wrap(self.discriminator, device)
        # Stop checks between layers (not on the EMA copy, which validation runs and checks per crop itself).
        self._layer_checks = LayerChecks(m for m in (self.generator, self.discriminator, self.perceptual) if m)

    # ------------------------------------------------------------------ the step
    def set_lr_factor(self, factor: float) -> None:
        for optimizer, base in ((self.opt_g, self.config.lr_g), (self.opt_d, self.config.lr_d)):
            for group in optimizer.param_groups:
                group["lr"] = base * factor

    @property
    def learning_rates(self) -> tuple[float, float]:
        return self.opt_g.param_groups[0]["lr"], self.opt_d.param_groups[0]["lr"]

    def step(self, hr: torch.Tensor, lr: torch.Tensor, phase: str, step: int,
             should_stop: Callable[[], bool] = lambda: False) -> StepResult:
        """One update on a batch in [0, 1]; raises NonFiniteLoss (naming the term) instead of keeping a bad
        update, and StopRequested, with nothing of the step kept, when `should_stop` turns true before the
        generator's update: between any two layers of a single process, after the discriminator's update
        under torchrun (where every process must decide at the same point, so not between layers)."""
        undo = self._undo_point(phase)
        try:
            with self._layer_checks.active(None if self.group.enabled else should_stop):
                return self._step(hr, lr, phase, step, should_stop)
        except StopRequested:
            self._undo(undo)
            raise

    def _undo_point(self, phase: str) -> dict[str, Any]:
        """What a step changes before the generator's update: buffers (spectral norm's vectors, BatchNorm's
        statistics), the discriminator and its optimiser in the GAN phase, and torch's random state."""
        point: dict[str, Any] = {"generator": {name: b.clone() for name, b in self.generator.named_buffers()},
                                 "rng": torch.get_rng_state()}
        if phase == "gan":
            point["discriminator"] = {name: t.clone() for name, t in self.discriminator.state_dict().items()}
            point["opt_d"] = copy.deepcopy(self.opt_d.state_dict())
            point["scaler_d"] = self.scaler_d.state_dict()
        return point

    @torch.no_grad()
    def _undo(self, point: dict[str, Any]) -> None:
        for name, buffer in self.generator.named_buffers():
            buffer.copy_(point["generator"][name])
        torch.set_rng_state(point["rng"])
        if "discriminator" in point:
            self.discriminator.load_state_dict(point["discriminator"])
            self.opt_d.load_state_dict(point["opt_d"])
            if point["scaler_d"]:
                self.scaler_d.load_state_dict(point["scaler_d"])

    def _step(self, hr: torch.Tensor, lr: torch.Tensor, phase: str, step: int,
              should_stop: Callable[[], bool]) -> StepResult:
        hr, lr = self.to_model(hr), self.to_model(lr)
        self.generator.train()
        losses: dict[str, torch.Tensor] = {}
        d_real = d_fake = None
        with self._autocast(), record_function("G forward"):
            sr = self._train_generator(lr)
        if phase == "gan":
            with record_function("D update"):
                d_real, d_fake = self._discriminator_update(hr, sr, losses)
            if should_stop():
                raise StopRequested()
        with self._autocast():
            losses["g_pixel"] = self.config.pixel_weight * self.pixel_loss(sr.float(), hr)
            if phase == "gan" and self.perceptual is not None:
                with record_function("VGG forward"):
                    losses["g_perceptual"] = self.perceptual(sr.float(), hr)
            if phase == "gan":
                with record_function("D on G's output"):
                    losses["g_adversarial"] = self._generator_adversarial(hr, sr)
        g_terms = [name for name in losses if name.startswith("g_")]
        losses["g_loss"] = sum(losses[name] for name in g_terms)
        self._check_finite(losses, g_terms)
        with record_function("G backward + update"):
            self._optimise(self.opt_g, self.scaler_g, losses["g_loss"], self.generator, "generator")
        if self.ema is not None:
            update_ema(self.ema, self.generator, step)
        values = {name: float(value.detach()) for name, value in losses.items()}
        return StepResult(values, d_real, d_fake)

    def _generator_adversarial(self, hr: torch.Tensor, sr: torch.Tensor) -> torch.Tensor:
        """G's adversarial term: D's verdict on the output, gradients to G only."""
        self.discriminator.requires_grad_(False)
        fake_logits = self.discriminator(sr).float()
        real_logits = self.discriminator(hr).float().detach() if self.adversarial.g_needs_real else None
        self.discriminator.requires_grad_(True)
        return self.config.adversarial_weight * self.adversarial.g(real_logits, fake_logits)

    def _discriminator_update(self, hr: torch.Tensor, sr: torch.Tensor,
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
        self._optimise(self.opt_d, self.scaler_d, losses["d_loss"], self.discriminator, "discriminator")
        score = torch.sigmoid if self.adversarial.probabilities else (lambda t: t)
        return float(score(real_logits.detach()).mean()), float(score(fake_logits.detach()).mean())

    def _optimise(self, optimizer: torch.optim.Optimizer, scaler: torch.amp.GradScaler, loss: torch.Tensor,
                  model: nn.Module, name: str) -> None:
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        if self.config.grad_clip > 0:
            scaler.unscale_(optimizer)
            nn.utils.clip_grad_norm_(model.parameters(), self.config.grad_clip)
        scaler.step(optimizer)
        scaler.update()
        state = [t for s in optimizer.state.values() for t in s.values() if isinstance(t, torch.Tensor)]
        bad = None
        if not _all_finite(list(model.parameters())):
            bad = f"the {name}'s weights"
        elif not _all_finite(state):
            bad = f"the {name}'s optimizer state (Adam's moments overflowed: is a loss weight far too large?)"
        if self.group.any(bad is not None, self.device):
            raise NonFiniteLoss(bad or f"the {name} of another process")

    def _check_finite(self, losses: dict[str, torch.Tensor], names: list[str]) -> None:
        """Raise NonFiniteLoss before any bad update; under torchrun every process rolls back together."""
        bad = next((name for name in names if not torch.isfinite(losses[name]).all()), None)
        if self.group.any(bad is not None, self.device):
            raise NonFiniteLoss(bad or f"a loss of another process ({', '.join(names)})")

    def _autocast(self) -> contextlib.AbstractContextManager[Any]:
        if self.amp_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.amp_dtype)

    def to_model(self, batch: torch.Tensor) -> torch.Tensor:
        """A [0, 1] batch on the device, in the generator's value range and memory format."""
        low, high = self.value_range
        batch = batch.to(self.device, non_blocking=True, memory_format=self.memory_format)
        return batch * (high - low) + low

    # ------------------------------------------------------------------ inference
    @property
    def eval_generator(self) -> nn.Module:
        """The weights validation, samples and exports use: the EMA when the run keeps one."""
        return self.ema.module if self.ema is not None else self.generator

    @torch.inference_mode()
    def super_resolve(self, lr: torch.Tensor) -> torch.Tensor:
        """A [0, 1] LR batch through the eval generator, back in [0, 1] on the CPU."""
        model = self.eval_generator
        was_training = model.training
        model.eval()
        low, high = self.value_range
        with self._autocast():
            out = model(self.to_model(lr)).float()
        model.train(was_training)
        return ((out - low) / (high - low)).clamp_(0, 1).cpu()

    def fingerprint(self) -> float:
        """A number that changes whenever the generator's weights change (to notice a frozen generator)."""
        with torch.no_grad():
            return float(sum(p.double().abs().sum() for p in self.generator.parameters()))

    # ------------------------------------------------------------------ state
    def state_dict(self) -> dict[str, Any]:
        """CPU copies of everything the step needs to continue exactly."""
        return {"generator": cpu_state(self.generator), "ema": cpu_state(self.ema.module) if self.ema else None,
                "discriminator": cpu_state(self.discriminator), "opt_g": cpu_state(self.opt_g),
                "opt_d": cpu_state(self.opt_d), "scaler_g": self.scaler_g.state_dict(),
                "scaler_d": self.scaler_d.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.generator.load_state_dict(state["generator"])
        if self.ema is not None and state["ema"] is not None:
            self.ema.module.load_state_dict(state["ema"])
        self.discriminator.load_state_dict(state["discriminator"])
        self.opt_g.load_state_dict(state["opt_g"])
        self.opt_d.load_state_dict(state["opt_d"])
        if state["scaler_g"]:
            self.scaler_g.load_state_dict(state["scaler_g"])
            self.scaler_d.load_state_dict(state["scaler_d"])
