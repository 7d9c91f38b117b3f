"""A generator exported for other programs: our `.safetensors`, ONNX (onnxruntime, chaiNNer) or an ncnn
pair (Upscayl, realesrgan-ncnn-vulkan). One entry point that the CLI and the Runs tab share.

The source is anything the upscaler loads (one of our exports, a training checkpoint, a third-party model
spandrel knows); the command line turns a run folder into its export first (RunFolder.exported_model). Every file is written atomically and never over an
existing one unless asked. Inputs stay as the network takes them: RGB (or grey) in its value range,
channels-first, [0, 1] for our current generators and spandrel's.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import torch

from engine.io.atomic import TargetExistsError, atomic_write
from engine.models.export import export_generator
from engine.models.ncnn_export import export_ncnn
from engine.models.registry import LoadedModel, load_model, resolve_model_source

FORMATS = ("safetensors", "onnx", "ncnn")
ONNX_OPSET = 17  # read by onnxruntime >= 1.12 and by chaiNNer's ONNX nodes
# Keys export_generator writes itself; a re-export takes the rest of the source's metadata along.
OWN_KEYS = ("format", "format_version", "arch", "scale", "in_channels", "value_range")


class ExportError(ValueError):
    """The model cannot be exported in the asked format; the one-line message says why."""


def _safetensors(model: LoadedModel, source: Path, out: Path, fp16: bool, overwrite: bool) -> list[Path]:
    if model.kind == "srgan-studio" and not fp16:
        return [atomic_write(out, lambda tmp: shutil.copyfile(source, tmp), overwrite=overwrite)]
    if not hasattr(model.module, "spec"):
        raise ExportError(f"{source.name} is a third-party model: it stays in its own format (export it as "
                          "onnx or ncnn instead)")
    dtype = torch.float16 if fp16 else torch.float32
    state = {k: v.to(dtype) if v.is_floating_point() else v for k, v in model.module.state_dict().items()}
    if model.kind == "checkpoint":
        extra = {"steps": model.metadata.get("step"), "config": model.metadata.get("config", {})}
    else:
        extra = {k: v for k, v in model.metadata.items() if k not in OWN_KEYS}
    return [export_generator(out, state, model.module.spec(), model.value_range, extra=extra, overwrite=overwrite)]


def _onnx(model: LoadedModel, out: Path, fp16: bool, overwrite: bool) -> list[Path]:
    """The legacy TorchScript exporter (no onnxscript needed), height and width dynamic; traced on an
    input the architecture accepts."""
    dtype = torch.float16 if fp16 else torch.float32
    module = model.module.to(dtype)
    side = -(-max(32, model.min_size) // model.size_multiple) * model.size_multiple
    example = torch.rand(1, model.in_channels, side, side, dtype=dtype)
    axes = {0: "batch", 2: "height", 3: "width"}

    def write(tmp: Path) -> None:
        try:
            with torch.no_grad():
                torch.onnx.export(module, (example,), str(tmp), dynamo=False, opset_version=ONNX_OPSET,
                                  input_names=["input"], output_names=["output"],
                                  dynamic_axes={"input": axes, "output": axes})
        except Exception as exc:  # noqa: BLE001 - the exporter raises assorted errors for what it cannot express
            raise ExportError(f"onnx export failed: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}"
                              ) from None

    return [atomic_write(out, write, overwrite=overwrite)]


def export_model_as(source: str | Path, fmt: str, out: str | Path, fp16: bool = False, overwrite: bool = False,
                    name: str | None = None) -> list[Path]:
    """Export `source` as `fmt` to `out` (a file; for ncnn the folder that gets `models/NAME-xS.param/.bin`).

    Raises ExportError / ModelLoadError / NcnnExportError (all ValueError) with a one-line reason, and
    FileExistsError when a target exists and `overwrite` is False. Returns the written files.
    """
    if fmt not in FORMATS:
        raise ExportError(f"unknown format {fmt!r} (choose {', '.join(FORMATS)})")
    path = resolve_model_source(source)
    model = load_model(path)
    out = Path(out)
    if fmt == "ncnn":
        return list(export_ncnn(model.module, out, name or path.stem, model.scale, fp16=fp16, overwrite=overwrite))
    if not out.parent.is_dir():
        raise ExportError(f"the folder {out.parent} does not exist")
    if out.exists() and not overwrite:
        raise TargetExistsError(out)
    if fmt == "onnx":
        return _onnx(model, out, fp16, overwrite)
    return _safetensors(model, path, out, fp16, overwrite)
