"""`python -m engine ...`: the headless front door. Each sub-command lives in its own module; only the
module of the command being run is imported (the others bring torch, training or Qt-free but heavy
imports: `python -m engine upscale --help` must answer at once). Every failure ends in a one-line reason
and a non-zero exit."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from engine import __version__

# command -> (module whose `COMMANDS[command](parser)` fills in its arguments and `func(args) -> int`, help)
COMMANDS = {
    "train": ("engine.cli.train", "train a super-resolution GAN on a folder of images"),
    "eval": ("engine.cli.train", "PSNR/SSIM (Y channel) of a model and of bicubic on HR images"),
    "upscale": ("engine.cli.upscale", "upscale images and folders (recursively) with a model"),
    "export": ("engine.cli.export", "export a run's generator or a model file as safetensors, ONNX or ncnn"),
}


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser; the arguments of `command` (None: of every command) are filled in, the others only
    listed with their help."""
    parser = argparse.ArgumentParser(prog="python -m engine", description="SRGAN Studio's engine, headless: "
                                     "train a super-resolution GAN, evaluate it, upscale images.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module, text) in COMMANDS.items():
        command_parser = sub.add_parser(name, help=text, description=text)
        if command is None or name == command:
            importlib.import_module(module).COMMANDS[name](command_parser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    for stream in (sys.stdout, sys.stderr):  # a file name that is not valid UTF-8 prints as \xff, never fails
        getattr(stream, "reconfigure", lambda **_: None)(errors="backslashreplace")
    argv = list(sys.argv[1:] if argv is None else argv)
    command = next((arg for arg in argv if not arg.startswith("-")), None)
    parser = build_parser(command if command in COMMANDS else None)
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args))
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
