"""Training speed on this machine, side by side in one run, with the real (bundled) VGG weights:

1. where a default GAN step's time goes (torch.profiler, by part of the step);
2. the default GAN phase against the classic recipe at EQUAL batch and patch (HR pixels per second);
3. each preset at its own defaults (seconds per step of each phase), and the GAN step of the recipe the
   app shipped before (VGG19 to conv5_4 with random weights, since no VGG19 weights exist offline: the
   timing is the same; U-Net D with 32 features; batch 16 x 128 px);
4. how long Ctrl-C takes to end a real `python -m engine train` of the default preset on the bundled
   samples in its GAN phase, checkpoint and export written.

    python bench/train_speed.py [--steps 3] [--threads N]
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
from torch.profiler import ProfilerActivity, profile

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine.training.config import TrainConfig, preset  # noqa: E402
from engine.training.gan_step import STEP_PARTS, GANStep  # noqa: E402
from engine.training.perceptual import vgg_feature_stack  # noqa: E402
from engine.resources import resource_path  # noqa: E402
from engine.training.speed_probe import measure_step_times, synthetic_batch  # noqa: E402

PREVIOUS_DEFAULT = {"perceptual_net": "vgg19", "disc_features": 32, "batch_size": 16, "hr_patch": 128,
                    "perceptual_layers": {"conv1_2": 0.1, "conv2_2": 0.1, "conv3_4": 1.0, "conv4_4": 1.0,
                                          "conv5_4": 1.0}}


def cpu(config: TrainConfig) -> TrainConfig:
    return config.replace(device="cpu", init_generator="").for_device("cpu")


def profile_parts(config: TrainConfig, steps: int) -> dict[str, float]:
    """Milliseconds per step in each labelled part of GANStep.step (GAN phase)."""
    gan = GANStep(config, torch.device("cpu"))
    hr, lr = synthetic_batch(config, torch.Generator().manual_seed(0))
    gan.step(hr, lr, "gan", 0)
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for step in range(steps):
            gan.step(hr, lr, "gan", step + 1)
    totals = {event.key: event.cpu_time_total / 1000 / steps for event in prof.key_averages()}
    return {part: totals.get(part, 0.0) for part in STEP_PARTS}


def gan_seconds(config: TrainConfig, steps: int, feature_net: torch.nn.Sequential | None = None) -> float:
    times = measure_step_times(config.replace(pretrain_steps=0), steps, feature_net)
    assert times is not None
    return times.seconds["gan"]


def ctrl_c_seconds(steps_before: int = 5) -> float:
    """Seconds from SIGINT to the exit of a CLI run of the default preset, `steps_before` GAN steps in."""
    root = Path(__file__).resolve().parent.parent
    with tempfile.TemporaryDirectory() as tmp:
        process = subprocess.Popen([sys.executable, "-m", "engine", "train", "--data", str(resource_path("samples")),
                                    "--out", str(Path(tmp) / "run")], cwd=root, stderr=subprocess.PIPE, text=True,
                                   env={**os.environ, "PYTHONUNBUFFERED": "1"})
        assert process.stderr is not None
        buffer = ""
        while f" {steps_before}/" not in buffer or "phase=gan" not in buffer:
            buffer = (buffer + process.stderr.read(1))[-400:]
        started = time.perf_counter()
        process.send_signal(signal.SIGINT)
        process.communicate(timeout=120)
        elapsed = time.perf_counter() - started
        assert process.returncode == 130 and (Path(tmp) / "run" / "checkpoint.pt").is_file()
        return elapsed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=3, help="timed steps per case (after one untimed step)")
    parser.add_argument("--threads", type=int, help="torch threads (default: torch's choice)")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    default, classic = cpu(preset("default")), cpu(preset("classic"))
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, CPU, bundled ImageNet VGG16 weights")

    print(f"\n1. Where a default GAN step goes (batch {default.batch_size} x {default.hr_patch} px, "
          f"VGG16 to {list(default.perceptual_layers)[-1]}, U-Net D {default.disc_features}), ms per step:")
    parts = profile_parts(default, args.steps)
    total = sum(parts.values())
    for part, ms in parts.items():
        print(f"   {part:<22} {ms:8.1f}  {ms / total:6.1%}")
    print(f"   {'total':<22} {total:8.1f}")

    print("\n2. Equal batch and patch: HR megapixels per second of a GAN step")
    print(f"   {'batch x patch':<14} {'classic':>9} {'default':>9} {'default/classic':>16}")
    for batch, patch in ((classic.batch_size, classic.hr_patch), (default.batch_size, default.hr_patch)):
        shape = {"batch_size": batch, "hr_patch": patch}
        rates = [batch * patch * patch / gan_seconds(cfg.replace(**shape), args.steps) / 1e6 for cfg in (classic, default)]
        print(f"   {f'{batch} x {patch}':<14} {rates[0]:9.3f} {rates[1]:9.3f} {rates[1] / rates[0]:15.2f}x", flush=True)

    print("\n3. Each recipe at its own defaults: seconds per step")
    previous = gan_seconds(default.replace(**PREVIOUS_DEFAULT), args.steps, vgg_feature_stack("vgg19"))
    rows = {"classic": classic, "classic-init": cpu(preset("classic-init")), "default": default,
            "scratch": cpu(preset("scratch"))}
    seconds = {}
    for name, config in rows.items():
        times = measure_step_times(config, args.steps)
        assert times is not None
        seconds[name] = times.seconds
        phases = "  ".join(f"{phase} {value:6.3f}" for phase, value in times.seconds.items())
        print(f"   {name:<13} {config.batch_size:>2} x {config.hr_patch:<3}  {phases}   "
              f"~{times.per_thousand(config) / 60:5.1f} min per 1000 steps", flush=True)
    print(f"   {'previous default GAN, 16 x 128, VGG19 to conv5_4, U-Net 32':<60} {previous:6.3f}")
    ratio = seconds["default"]["gan"] / seconds["classic"]["gan"]
    print(f"\n   default GAN step / classic step = {ratio:.2f} (target <= 0.33); default GAN step "
          f"{seconds['default']['gan']:.3f} s (target < 1 s); was {previous:.3f} s")
    print(f"\n4. Ctrl-C in the GAN phase of a default CLI run to exit, checkpoint written: {ctrl_c_seconds():.2f} s "
          f"(target < 2 s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
