"""Where training runs live: one fresh folder per Start (the trainer refuses to start over an existing
run), under a user-writable base folder."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from PySide6.QtCore import QStandardPaths

from engine.training.run_folder import RunFolder
from gui.common.desktop_integration import APP_NAME


def default_runs_dir() -> Path:
    """DATA/SRGAN Studio/runs in the platform's data folder (~/.local/share on Linux). Qt's per-app folder
    is DATA/organisation/application, both our name, so earlier versions kept runs under the name twice:
    such a folder stays in use where it is (moving it could pull it from under a run still training)."""
    generic = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.GenericDataLocation)
    runs = (Path(generic) / APP_NAME if generic else Path.home() / ".srgan-studio") / "runs"
    earlier = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.AppDataLocation)
    if earlier and not runs.exists() and (Path(earlier) / "runs").is_dir():
        return Path(earlier) / "runs"
    return runs


def new_run_dir(base: Path, now: datetime | None = None) -> Path:
    """A not-yet-existing folder named by the time, e.g. runs/20260101-120000 (or ...-2 on a clash)."""
    stamp = (now or datetime.now()).strftime("%Y%m%d-%H%M%S")
    candidate = base / stamp
    suffix = 2
    while candidate.exists():
        candidate = base / f"{stamp}-{suffix}"
        suffix += 1
    return candidate


def has_checkpoint(run_dir: str | Path | None) -> bool:
    return bool(run_dir) and RunFolder(run_dir).has_checkpoint()


def format_duration(seconds: float) -> str:
    if not seconds or seconds != seconds or seconds == float("inf") or seconds < 0:
        return "--:--"
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"
