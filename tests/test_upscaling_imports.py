"""Upscaling stays light: the upscaler, its batch runner and the CLI's upscale command load no training module
and no torchvision (the training config once pulled in both, seconds before the first image)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def upscaling_modules() -> list[str]:
    return [f"engine.upscaling.{path.stem}" for path in sorted((ROOT / "engine" / "upscaling").glob("*.py"))
            if path.stem != "__init__"]


def test_upscaling_and_the_upscale_command_import_no_training_and_no_torchvision() -> None:
    modules = [*upscaling_modules(), "engine.cli.upscale"]
    assert {"engine.upscaling.upscaler", "engine.upscaling.batch"} <= set(modules)
    code = (
        "import importlib, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        "print(' '.join(sorted(m for m in sys.modules if m.split('.')[0] == 'torchvision'"
        " or m.startswith('engine.training'))))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "", f"upscaling loaded: {result.stdout.strip()}"
