"""The engine must work headless: importing any engine module except engine.worker loads no Qt."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ENGINE = Path(__file__).resolve().parents[1] / "engine"


def engine_modules() -> list[str]:
    names = sorted(p.stem for p in ENGINE.glob("*.py") if p.stem not in ("worker", "__main__"))
    return ["engine" if name == "__init__" else f"engine.{name}" for name in names]


def test_engine_modules_do_not_import_pyside() -> None:
    modules = engine_modules()
    assert "engine.config" in modules
    code = (
        "import importlib, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        "qt = sorted(m for m in sys.modules if m.startswith('PySide6') or m.startswith('shiboken'))\n"
        "print(','.join(qt))\n"
        "sys.exit(1 if qt else 0)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ENGINE.parent, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, f"Qt modules loaded: {result.stdout.strip()} {result.stderr[-2000:]}"


def test_engine_package_does_not_import_worker() -> None:
    code = "import sys, engine; sys.exit(1 if 'engine.worker' in sys.modules else 0)"
    result = subprocess.run([sys.executable, "-c", code], cwd=ENGINE.parent, capture_output=True, timeout=60)
    assert result.returncode == 0
