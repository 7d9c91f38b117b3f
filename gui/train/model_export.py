"""Export a run's generator: copy its best or latest export to a file the person picks, atomically, and
never over an existing file without asking."""

from __future__ import annotations

import shutil
from pathlib import Path

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QFileDialog, QMessageBox, QWidget

from engine.io.atomic import atomic_write
from engine.models.export import read_metadata
from engine.training.run_folder import RunFolder

SETTING_FOLDER = "runs/export_folder"
MODEL_FILTER = "SRGAN Studio models (*.safetensors)"


def export_choices(folder: Path) -> list[tuple[str, Path]]:
    """The run's exports that exist, each with a label that says which weights and from which step."""
    run = RunFolder(folder)
    choices = []
    for label, path in (("Best validation PSNR", run.best), ("Latest weights", run.generator)):
        if path.is_file():
            try:
                step = read_metadata(path).get("steps", "?")
            except (OSError, ValueError):
                continue
            choices.append((f"{label} (step {step})", path))
    return choices


def copy_model(source: Path, target: Path) -> Path:
    """`source` copied onto `target` all at once: a full disk never leaves half a model behind."""
    return atomic_write(target, lambda tmp: shutil.copyfile(source, tmp))


def export_model(parent: QWidget, source: Path, run_name: str, settings: QSettings) -> Path | None:
    """Ask where, confirm a replacement, copy; the written path, or None when cancelled or refused."""
    folder = str(settings.value(SETTING_FOLDER, "") or Path.home())
    suggested = str(Path(folder) / f"{run_name}-{source.stem}.safetensors")
    chosen, _ = QFileDialog.getSaveFileName(parent, "Export model", suggested, MODEL_FILTER,
                                            options=QFileDialog.Option.DontConfirmOverwrite)
    if not chosen:
        return None
    target = Path(chosen if chosen.endswith(".safetensors") else f"{chosen}.safetensors")
    if target.exists():
        answer = QMessageBox.question(parent, "Replace the file?",
                                      f"{target.name} already exists in {target.parent}. Replace it?",
                                      QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
                                      QMessageBox.StandardButton.No)
        if answer != QMessageBox.StandardButton.Yes:
            return None
    try:
        copy_model(source, target)
    except OSError as exc:
        QMessageBox.warning(parent, "Export failed", f"Could not write {target}: {exc.strerror or exc}")
        return None
    settings.setValue(SETTING_FOLDER, str(target.parent))
    return target
