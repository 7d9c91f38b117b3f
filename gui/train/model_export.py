"""Export a run's generator: its best export or the one written when it last stopped (EMA weights where
the run averages them), as our `.safetensors`, ONNX or an ncnn pair, to where the person picks (the save
dialog's file type is the format), atomically, and never over an existing file without asking. The conversion is engine.models.export_formats, the same as `python -m engine export`."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QFileDialog, QMessageBox, QWidget

from engine.models.export import read_metadata
from engine.models.export_formats import export_model_as
from engine.training.run_folder import RunFolder

SETTING_FOLDER = "runs/export_folder"
# dialog filter -> (format, fp16, suffix of the file the person names)
FILTERS: dict[str, tuple[str, bool, str]] = {
    "SRGAN Studio models (*.safetensors)": ("safetensors", False, ".safetensors"),
    "ONNX, for onnxruntime and chaiNNer (*.onnx)": ("onnx", False, ".onnx"),
    "ncnn, for Upscayl: writes models/NAME-xSCALE.param and .bin (*.param)": ("ncnn", False, ".param"),
    "ncnn with half-precision weights (*.param)": ("ncnn", True, ".param"),
}


def export_choices(folder: Path) -> list[tuple[str, Path]]:
    """The run's exports that exist, each with a label that says which weights and from which step."""
    run = RunFolder(folder)
    choices = []
    for label, path in (("Best validation PSNR", run.best), ("Weights at the last stop", run.generator)):
        if path.is_file():
            try:
                step = read_metadata(path).get("steps", "?")
            except (OSError, ValueError):
                continue
            choices.append((f"{label} (step {step})", path))
    return choices


def write_export(source: Path, chosen: Path, filter_name: str, overwrite: bool) -> list[Path]:
    """`source` written as the dialog's format: a file at `chosen`, or for ncnn `models/STEM-xS.param/.bin`
    beside it (Upscayl's layout). FileExistsError when a target exists and `overwrite` is False."""
    fmt, fp16, suffix = FILTERS[filter_name]
    target = chosen if chosen.suffix == suffix else chosen.with_name(chosen.name + suffix)
    if fmt == "ncnn":
        return export_model_as(source, fmt, target.parent, fp16=fp16, overwrite=overwrite, name=target.stem)
    return export_model_as(source, fmt, target, fp16=fp16, overwrite=overwrite)


def export_model(parent: QWidget, source: Path, run_name: str, settings: QSettings) -> Path | None:
    """Ask where and as what, confirm a replacement, write; the first written path, or None when cancelled
    or refused."""
    folder = str(settings.value(SETTING_FOLDER, "") or Path.home())
    suggested = str(Path(folder) / f"{run_name}-{source.stem}.safetensors")
    chosen, filter_name = QFileDialog.getSaveFileName(parent, "Export model", suggested, ";;".join(FILTERS),
                                                      options=QFileDialog.Option.DontConfirmOverwrite)
    if not chosen:
        return None
    filter_name = filter_name if filter_name in FILTERS else next(iter(FILTERS))
    try:
        try:
            written = write_export(source, Path(chosen), filter_name, overwrite=False)
        except FileExistsError as exc:
            existing = Path(exc.filename or chosen)
            answer = QMessageBox.question(parent, "Replace the file?",
                                          f"{existing.name} already exists in {existing.parent}. Replace it?",
                                          QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
                                          QMessageBox.StandardButton.No)
            if answer != QMessageBox.StandardButton.Yes:
                return None
            written = write_export(source, Path(chosen), filter_name, overwrite=True)
    except ValueError as exc:  # an architecture the format cannot express, or an unreadable model
        QMessageBox.warning(parent, "Export failed", str(exc))
        return None
    except OSError as exc:
        QMessageBox.warning(parent, "Export failed", f"Could not write {chosen}: {exc.strerror or exc}")
        return None
    settings.setValue(SETTING_FOLDER, str(Path(chosen).parent))
    return written[0]
