"""`python -m engine ...`: the headless front door. Each sub-command lives in its own module and
registers itself here; every failure ends in a one-line reason and a non-zero exit."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from engine import __version__

# Modules that provide `register(subparsers)`; each sets `func(args) -> int` on its parser.
COMMAND_MODULES = ("engine.cli.train", "engine.cli.upscale", "engine.cli.export")


def build_parser() -> argparse.ArgumentParser:
    import importlib

    parser = argparse.ArgumentParser(prog="python -m engine", description="SRGAN Studio's engine, headless: "
                                     "train a super-resolution GAN, evaluate it, upscale images.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    for stream in (sys.stdout, sys.stderr):  # a file name that is not valid UTF-8 prints as \xff, never fails
        getattr(stream, "reconfigure", lambda **_: None)(errors="backslashreplace")
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args))
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
