"""`python -m engine export`: a run's generator (or any model file) as safetensors, ONNX or ncnn.

Exit status: 0 when written, 2 when the model, the format or the target is unusable (one-line reason).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from engine.models.export_formats import FORMATS, export_model_as
from engine.training.run_folder import RunFolder

EXIT_OK, EXIT_BAD_ARGS = 0, 2


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("source", metavar="RUN_OR_FILE",
                        help="a run folder (its best export, else its latest), or a model file")
    parser.add_argument("--format", required=True, choices=FORMATS)
    parser.add_argument("--out", required=True,
                        help="the file to write; for ncnn the folder that gets models/NAME-xSCALE.param/.bin")
    parser.add_argument("--name", help="ncnn only: NAME in the file names (default: the run's or file's name)")
    parser.add_argument("--fp16", action="store_true", help="store weights in half precision")
    parser.add_argument("--overwrite", action="store_true", help="replace existing files")
    parser.set_defaults(func=run_export)


COMMANDS = {"export": configure}  # engine.cli.main's table


def run_export(args: argparse.Namespace) -> int:
    source, name = Path(args.source), args.name
    try:
        if source.is_dir():
            source, name = RunFolder(source).exported_model(), name or source.resolve().name
        written = export_model_as(source, args.format, args.out, fp16=args.fp16, overwrite=args.overwrite, name=name)
    except FileExistsError as exc:
        print(f"error: {exc} (pass --overwrite to replace it)", file=sys.stderr)
        return EXIT_BAD_ARGS
    except (ValueError, OSError) as exc:  # ExportError, ModelLoadError, NcnnExportError, an unwritable folder
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_ARGS
    for path in written:
        print(f"wrote {path}")
    return EXIT_OK
