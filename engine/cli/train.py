"""`python -m engine train` and `python -m engine eval`: training and measuring without the window."""

from __future__ import annotations

import argparse
import itertools
import signal
import sys
import textwrap
from types import FrameType
from typing import Any

from tqdm import tqdm

from engine import events as ev
from engine.training.config import (CHOICES, PRESETS, SCALES, SETTINGS, TrainConfig, parse_assignments, preset,
                                   setting_help)
from engine.errors import ConfigError
from engine.data.sizes import min_hr_side
from engine.device import resolve_device
from engine.training.distributed import SINGLE, join_from_environment, leave
from engine.scoring.evaluation import ImageScore, describe, load_upscaler, mean_score, score_folder
from engine.training.run_folder import absolute_paths, config_to_resume
from engine.training.trainer import Trainer

# Every setup failure of ours (ConfigError, DataError, CheckpointError, ModelFileError, ...) is a ValueError.
SETUP_ERRORS = (ValueError, OSError)


def configure_train(train: argparse.ArgumentParser) -> None:
    train.epilog, train.formatter_class = settings_help(), argparse.RawDescriptionHelpFormatter
    train.add_argument("--data", help="folder of training images, searched recursively, or one holding hr/ and lr/ "
                       "pairs (other LR partners: --set lr_dir=DIR); with --resume: only where the run's images "
                       "moved")
    train.add_argument("--preset", choices=tuple(PRESETS), help="(default: default) " + "; ".join(
        f"{item.name}: {item.description}" for item in PRESETS.values()))
    train.add_argument("--out", required=True, help="the run folder (checkpoint, exports, samples)")
    train.add_argument("--scale", type=int, choices=SCALES, help="upscaling factor (default: the preset's)")
    train.add_argument("--resume", action="store_true", help="continue the run in --out, wherever it was made, "
                       "with its own settings (a different --scale, --preset or --set is refused)")
    train.add_argument("--steps", type=int, help="total steps; the default preset keeps its pretraining share")
    train.add_argument("--set", dest="overrides", action="append", default=[], metavar="NAME=VALUE", nargs="+",
                       help="any training setting, e.g. --set batch_size=8 lr_g=1e-4 (all of them below)")
    train.set_defaults(func=run_train)


def configure_eval(evaluate: argparse.ArgumentParser) -> None:
    evaluate.add_argument("--model", required=True, help="a bundled model name, an exported .safetensors, a "
                          "training checkpoint.pt or a third-party model file")
    evaluate.add_argument("--data", required=True, help="folder of high-resolution images")
    evaluate.add_argument("--scale", type=int, choices=SCALES, help="must match the model (default: the model's)")
    evaluate.add_argument("--max-side", type=int, help="score centred crops of at most this size (default: whole "
                          "images)")
    evaluate.set_defaults(func=run_eval)


COMMANDS = {"train": configure_train, "eval": configure_eval}  # engine.cli.main's table


# ----------------------------------------------------------------------------- train
def settings_help() -> str:
    """Every setting --set reaches, with its description (the window's tooltip), its default (the default
    preset's) and its choices."""
    defaults = TrainConfig()
    lines = ["settings (--set NAME=VALUE; realistic.PARAMETER=VALUE sets one degradation parameter):"]
    for name in SETTINGS:
        choices = f" One of: {', '.join(map(str, CHOICES[name]))}." if name in CHOICES else ""
        default = getattr(defaults, name)
        text = f"{name} (default {default if default != '' else 'empty'}): {setting_help(name)}.{choices}"
        lines += textwrap.wrap(text, 110, initial_indent="  ", subsequent_indent="      ")
    return "\n".join(lines)


def build_config(args: argparse.Namespace) -> TrainConfig:
    """The preset, then --scale, --set and --steps; --steps keeps the preset's pretraining share unless
    pretrain_steps is set explicitly."""
    if not args.data:
        raise ConfigError("--data is required to start a run (only --resume can do without it)")
    base = preset(args.preset or "default")
    overrides = parse_assignments([item for group in args.overrides for item in group])
    changes: dict[str, Any] = {"data_dir": args.data, "out_dir": args.out}
    if args.scale:
        changes["scale"] = args.scale
    if args.steps is not None:
        share = round(args.steps * base.pretrain_steps / base.steps)
        changes.update(steps=args.steps, pretrain_steps=min(share, args.steps))
    config = base.replace(**{**changes, **overrides})
    return config


def refuse_new_settings(args: argparse.Namespace, config: TrainConfig) -> None:
    """--resume with a --scale, --preset or --set that differs from the run's own is refused rather than
    ignored: the checkpoint's weights and optimiser state belong to its settings, and a resumed run trains
    exactly what the uninterrupted one would (the window resumes the same way). Repeating them is fine."""
    asked = parse_assignments([item for group in args.overrides for item in group])
    asked.update({name: value for name, value in (("scale", args.scale), ("preset", args.preset)) if value})
    wanted = absolute_paths(config.replace(**asked))
    changed = [f"{name}={getattr(config, name)!r} (asked: {getattr(wanted, name)!r})" for name in asked
               if getattr(wanted, name) != getattr(config, name)]
    if changed:
        raise ConfigError(f"--resume continues the run with its own settings, and it has {', '.join(changed)}; "
                          f"only --steps and --data can change: start a new run in another --out instead")


def run_train(args: argparse.Namespace) -> int:
    """Train in this process, or as one of torchrun's processes (only rank 0 reports)."""
    group = SINGLE
    try:
        if args.resume:  # the stored run's settings win; --steps trains longer, --data finds moved images
            config = config_to_resume(args.out, args.steps, args.data)
            refuse_new_settings(args, config)
        else:
            config = build_config(args)
        group = join_from_environment(resolve_device(config.device))
        trainer = Trainer(config, resume=args.resume, group=group)
    except SETUP_ERRORS as exc:
        print(f"error: {exc}", file=sys.stderr)
        leave(group)
        return 2
    try:
        return drive(trainer)
    finally:
        leave(group)


# Signals that end a run as Ctrl-C does: a checkpoint and an export first (`kill`, a closed terminal or ssh
# session, a job scheduler's stop); the exit status is 128 + the signal's number, as the shell reports it.
STOP_SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name))


def drive(trainer: Trainer) -> int:
    """Run to the end; the first Ctrl-C (or SIGTERM, SIGHUP) stops cleanly (checkpoint + export), a second
    one aborts at once."""
    received: list[int] = []
    previous = {signum: signal.getsignal(signum) for signum in STOP_SIGNALS}

    def on_stop_signal(signum: int, frame: FrameType | None) -> None:
        received.append(signum)
        trainer.request_stop()
        signal.signal(signum, previous[signum])
        if trainer.group.is_main:
            again = "Ctrl-C" if signum == signal.SIGINT else signal.Signals(signum).name
            print(f"\nstopping after this step ({again} again to abort without saving)", file=sys.stderr)

    for signum in STOP_SIGNALS:
        signal.signal(signum, on_stop_signal)
    try:
        finished = report_progress(trainer) if trainer.group.is_main else run_quietly(trainer)
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    if trainer.group.is_main or finished.reason == "failed":
        where = f"; generator: {finished.export_path}" if finished.export_path else ""
        print(f"{finished.reason}: {finished.message}{where}", file=sys.stderr)
    if received:
        return 128 + received[0]
    return 0 if finished.reason in ("completed", "stopped") else 1


def run_quietly(trainer: Trainer) -> ev.Finished:
    """A torchrun process other than rank 0: train, leaving the reporting to rank 0."""
    finished = None
    for event in trainer.run():
        finished = event
    assert isinstance(finished, ev.Finished), "Trainer.run always ends with Finished"
    return finished


def report_progress(trainer: Trainer) -> ev.Finished:
    """Drive the run with a tqdm bar on stderr; warnings and validations get their own lines."""
    bar = tqdm(total=trainer.config.steps, initial=trainer.step, unit="step", file=sys.stderr, dynamic_ncols=True)
    finished = None
    for event in trainer.run():
        if isinstance(event, ev.StepMetrics):
            bar.n = event.step
            postfix = {key: f"{event.losses[key]:.4g}" for key in ("d_loss", "g_loss") if key in event.losses}
            bar.set_postfix(phase=event.phase, **postfix, refresh=False)
            bar.refresh()
        elif isinstance(event, ev.TrainWarning):
            bar.write(f"warning [{event.code}]: {event.message}", file=sys.stderr)
        elif isinstance(event, ev.Rollback):
            bar.write(f"rollback: {event.term} {event.problem}; back to step {event.to_step}, lr_g {event.lr_g:.3g}",
                      file=sys.stderr)
        elif isinstance(event, ev.Validation):
            bar.write(f"step {event.step}: PSNR {event.psnr:.2f} dB, SSIM {event.ssim:.4f} (bicubic "
                      f"{event.bicubic_psnr:.2f} / {event.bicubic_ssim:.4f}){' best' if event.is_best else ''}",
                      file=sys.stderr)
        elif isinstance(event, ev.Resumed):
            bar.write(f"resumed at step {event.step} from {event.path}", file=sys.stderr)
        elif isinstance(event, ev.Finished):
            finished = event
    bar.close()
    assert finished is not None, "Trainer.run always ends with Finished"
    return finished


# ----------------------------------------------------------------------------- eval
def run_eval(args: argparse.Namespace) -> int:
    try:
        upscaler = load_upscaler(args.model, args.scale)
        scale = upscaler.model.scale
        if args.max_side is not None and args.max_side < min_hr_side(scale):
            raise ConfigError(f"--max-side must be at least {min_hr_side(scale)} for a x{scale} model")
        results = score_folder(upscaler.upscale, scale, args.data, upscaler.model.in_channels, args.max_side)
        first = next(results)
    except SETUP_ERRORS as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    scores = []
    print(describe(scale, args.max_side))
    print(f"{'image':<32} {'PSNR':>8} {'SSIM':>7} {'bicubic PSNR':>13} {'bicubic SSIM':>13}")
    for result in itertools.chain([first], results):
        if isinstance(result, str):
            print(f"warning: {result}", file=sys.stderr)
            continue
        scores.append(result)
        print(format_row(result))
    if not scores:
        print(f"error: no readable images in {args.data}", file=sys.stderr)
        return 2
    print(format_row(mean_score(scores)))
    return 0


def format_row(score: ImageScore) -> str:
    return (f"{score.name[:32]:<32} {score.psnr:8.2f} {score.ssim:7.4f} {score.bicubic_psnr:13.2f} "
            f"{score.bicubic_ssim:13.4f}")
