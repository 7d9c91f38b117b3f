"""How long a training step of a config takes on this machine, measured, not guessed.

A few real optimisation steps of the real networks (and the real VGG weights, when the config uses
them) on synthetic crops of the config's batch and patch size. The window shows the result before Start
(time per 1000 steps, and for the whole run), and bench/train_speed.py prints it per phase.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import torch
from torch import nn

from engine.training.config import TrainConfig
from engine.data.dataset import make_lr
from engine.device import resolve_device
from engine.training.gan_step import GANStep


@dataclass(frozen=True)
class StepTimes:
    """Seconds per step of each phase the config trains (a phase it skips is absent)."""

    seconds: dict[str, float]

    def run_seconds(self, config: TrainConfig) -> float:
        """The whole run's training time (validation and checkpoints aside)."""
        return sum(count * self.seconds.get(phase, 0.0) for phase, count in config.phase_steps().items())

    def per_thousand(self, config: TrainConfig) -> float:
        return 1000 * self.run_seconds(config) / config.steps


def synthetic_batch(config: TrainConfig, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Smooth random pictures (not white noise, which no model or discriminator sees in training)."""
    coarse = torch.rand(config.batch_size, config.channels, 8, 8, generator=generator)
    hr = nn.functional.interpolate(coarse, size=(config.hr_patch, config.hr_patch), mode="bicubic").clamp_(0, 1)
    return hr, make_lr(hr, config, generator)


def phases_of(config: TrainConfig) -> list[str]:
    """The phases a run of `config` goes through, in order."""
    return [phase for phase, count in config.phase_steps().items() if count > 0]


def measure_step_times(config: TrainConfig, steps: int = 3, feature_net: nn.Sequential | None = None,
                       cancel: threading.Event | None = None) -> StepTimes | None:
    """The median of `steps` timed steps per phase, after one untimed step (kernel set-up); None if
    `cancel` was set meanwhile."""
    device = resolve_device(config.device)
    config = config.for_device(device.type)
    torch.manual_seed(config.seed)
    gan = GANStep(config, device, feature_net=feature_net)
    hr, lr = synthetic_batch(config, torch.Generator().manual_seed(config.seed))
    seconds = {}
    for phase in phases_of(config):
        timings = []
        for step in range(steps + 1):
            if cancel is not None and cancel.is_set():
                return None
            started = time.perf_counter()
            gan.step(hr, lr, phase, step)
            timings.append(time.perf_counter() - started)
        seconds[phase] = sorted(timings[1:])[len(timings[1:]) // 2]
    return StepTimes(seconds)
