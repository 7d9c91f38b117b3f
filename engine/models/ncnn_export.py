"""A generator as an ncnn `.param` + `.bin` pair, written by us from a `torch.fx` trace.

ncnn-based front ends (Upscayl, chaiNNer's ncnn nodes, realesrgan-ncnn-vulkan) load such pairs and run
them on any Vulkan GPU or CPU without PyTorch. The exporter is generic over modules: it traces the
network and maps each operation onto one ncnn layer, so any architecture made only of the operations in
`SUPPORTED` exports; anything else is refused with the name of the first operation that is not.

Layout that Upscayl expects: input blob `data`, output blob `output`, values as the network takes them
(our generators and spandrel's: RGB in [0, 1], channels-first). The `.bin` stores convolution weights
behind ncnn ModelBin's tag (fp32: 0, fp16: 0x01306B47) and biases and PReLU slopes as raw fp32.
"""

from __future__ import annotations

import operator
import struct
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import fx, nn

from engine.io.atomic import TargetExistsError, atomic_write

MAGIC = 7767517
FP32_TAG, FP16_TAG = 0, 0x01306B47
INPUT_BLOB, OUTPUT_BLOB = "data", "output"
SUPPORTED = ("Conv2d (groups=1, zero padding)", "PReLU", "ReLU", "LeakyReLU", "PixelShuffle",
             "nearest upsampling by a fixed factor", "add", "multiply by a constant", "channel concat")
ADD_FUNCTIONS = (operator.add, torch.add, "add")
MUL_FUNCTIONS = (operator.mul, torch.mul, "mul")
BINARY_ADD, BINARY_MUL = 0, 2
ELTWISE_SUM = 1
# Convolution's fused activation (param 9) and its parameters (param 10)
ACTIVATION, ACTIVATION_PARAMS, RELU, LEAKY_RELU = 9, 10, 1, 2
ARRAY_KEY = -23300  # ncnn writes array parameter k as -23300-k=count,values...


class NcnnExportError(ValueError):
    """The network uses an operation the ncnn exporter cannot write; the message names it."""


@dataclass
class _Layer:
    kind: str
    name: str
    inputs: list[str]
    outputs: list[str]
    params: dict[int, int | float | tuple[float, ...]] = field(default_factory=dict)


@dataclass
class NcnnModel:
    """A converted network: the `.param` text and the `.bin` bytes."""

    param: str
    weights: bytes


def _weight_blob(tensor: torch.Tensor, fp16: bool) -> bytes:
    """Weights with ModelBin's tag; fp16 data padded to 4 bytes as ncnn reads it."""
    values = tensor.detach().cpu().float().numpy().ravel()
    if not fp16:
        return struct.pack("<I", FP32_TAG) + values.astype("<f4").tobytes()
    data = values.astype("<f2").tobytes()
    return struct.pack("<I", FP16_TAG) + data + b"\0" * (-len(data) % 4)


def _raw_fp32(tensor: torch.Tensor) -> bytes:
    return tensor.detach().cpu().float().numpy().ravel().astype("<f4").tobytes()


def _pair(value: int | tuple[int, ...]) -> tuple[int, int]:
    return (value, value) if isinstance(value, int) else (int(value[0]), int(value[1]))


def _is_tensor(arg: object) -> bool:
    return isinstance(arg, fx.Node)


class _Converter:
    """Walks the traced graph once, emitting layers and weight bytes."""

    def __init__(self, module: nn.Module, fp16: bool) -> None:
        self.module = module
        self.fp16 = fp16
        try:
            self.graph = fx.symbolic_trace(module).graph
        except Exception as exc:  # noqa: BLE001 - fx raises assorted errors for data-dependent control flow
            raise NcnnExportError(f"ncnn export: {type(module).__name__} cannot be traced ({exc})") from None
        self.modules = dict(module.named_modules())
        self.layers: list[_Layer] = []
        self.weights = bytearray()
        self.pending: dict[fx.Node, list[str]] = {}  # blob names still to hand out, per producing node

    # ---------------------------------------------------------------- blob bookkeeping
    def _uses(self, node: fx.Node) -> list[fx.Node]:
        """One entry per use: `x + x` uses x twice."""
        return [user for user in node.users for arg in _flat(user.args, user.kwargs) if arg is node]

    def _produce(self, node: fx.Node) -> str:
        """The blob name `node`'s layer writes; a Split follows when it has several consumers."""
        uses = self._uses(node)
        to_output = [u for u in uses if u.op == "output"]
        if node.op == "placeholder":
            blob = INPUT_BLOB
        elif len(uses) == 1 and to_output:
            blob = OUTPUT_BLOB
        else:
            blob = node.name
        if len(uses) > 1:
            copies = [f"{node.name}#{i}" for i in range(len(uses) - len(to_output))]
            self.layers.append(_Layer("Split", f"split_{node.name}", [blob],
                                      copies + [OUTPUT_BLOB] * len(to_output)))
            self.pending[node] = copies
        else:
            self.pending[node] = [] if to_output else [blob]
        return blob

    def _take(self, node: fx.Node) -> str:
        return self.pending[node].pop()

    # ---------------------------------------------------------------- conversion
    def convert(self) -> NcnnModel:
        placeholders = [n for n in self.graph.nodes if n.op == "placeholder"]
        if len(placeholders) != 1:
            raise NcnnExportError(f"ncnn export: the network takes {len(placeholders)} inputs, not one image")
        for node in self.graph.nodes:
            if node.op == "placeholder":
                self.layers.append(_Layer("Input", INPUT_BLOB, [], [INPUT_BLOB]))
                self._produce(node)
            elif node.op == "output":
                if not _is_tensor(node.args[0]) or node.args[0].op == "placeholder":
                    raise NcnnExportError("ncnn export: the network must return one tensor computed from its input")
            else:
                self._node(node)
        layers = _fused(self.layers)
        blobs = {blob for layer in layers for blob in layer.outputs}
        lines = [str(MAGIC), f"{len(layers)} {len(blobs)}"]
        for layer in layers:
            params = " ".join(_param(k, v) for k, v in layer.params.items())
            lines.append(" ".join([f"{layer.kind:<16}", f"{layer.name:<24}", str(len(layer.inputs)),
                                   str(len(layer.outputs)), *layer.inputs, *layer.outputs, params]).rstrip())
        return NcnnModel("\n".join(lines) + "\n", bytes(self.weights))

    def _refuse(self, node: fx.Node, what: str) -> NcnnExportError:
        return NcnnExportError(f"ncnn export: {type(self.module).__name__} uses {what} ({node.name}), which ncnn "
                               f"export does not support (supported: {', '.join(SUPPORTED)})")

    def _emit(self, node: fx.Node, kind: str, inputs: list[fx.Node], params: dict[int, int | float]) -> None:
        names = [self._take(i) for i in inputs]
        self.layers.append(_Layer(kind, node.name, names, []))
        layer = self.layers[-1]
        layer.params = params
        layer.outputs = [self._produce(node)]

    def _node(self, node: fx.Node) -> None:
        if node.op == "call_module":
            self._module(node, self.modules[str(node.target)])
        elif node.op in ("call_function", "call_method"):
            self._function(node)
        else:
            raise self._refuse(node, f"'{node.op} {node.target}'")

    def _module(self, node: fx.Node, module: nn.Module) -> None:
        source = node.args[0]
        if type(module) is nn.Conv2d:
            self._conv(node, module)
        elif type(module) is nn.PReLU:
            self._emit(node, "PReLU", [source], {0: module.num_parameters})
            self.weights += _raw_fp32(module.weight)
        elif type(module) is nn.LeakyReLU:
            self._emit(node, "ReLU", [source], {0: float(module.negative_slope)})
        elif type(module) is nn.ReLU:
            self._emit(node, "ReLU", [source], {})
        elif type(module) is nn.PixelShuffle:
            self._emit(node, "PixelShuffle", [source], {0: module.upscale_factor})
        elif type(module) is nn.Upsample and module.size is None:
            self._nearest(node, source, module.mode, module.scale_factor)
        else:
            raise self._refuse(node, type(module).__name__)

    def _conv(self, node: fx.Node, conv: nn.Conv2d) -> None:
        if conv.groups != 1 or conv.padding_mode != "zeros" or isinstance(conv.padding, str):
            raise self._refuse(node, "a grouped, 'same'-padded or non-zero-padded Conv2d")
        (kh, kw), (sh, sw), (dh, dw), (ph, pw) = (_pair(conv.kernel_size), _pair(conv.stride),
                                                  _pair(conv.dilation), _pair(conv.padding))
        params: dict[int, int | float] = {0: conv.out_channels, 1: kw, 11: kh, 2: dw, 12: dh, 3: sw, 13: sh,
                                          4: pw, 14: ph, 5: int(conv.bias is not None),
                                          6: conv.weight.numel()}
        self._emit(node, "Convolution", [node.args[0]], params)
        self.weights += _weight_blob(conv.weight, self.fp16)
        if conv.bias is not None:
            self.weights += _raw_fp32(conv.bias)

    def _nearest(self, node: fx.Node, source: fx.Node, mode: str, factor: object) -> None:
        if mode != "nearest" or factor is None:
            raise self._refuse(node, f"{mode} resizing (only nearest by a fixed factor)")
        fh, fw = (float(factor), float(factor)) if isinstance(factor, (int, float)) else map(float, factor)
        self._emit(node, "Interp", [source], {0: 1, 1: fh, 2: fw})

    def _function(self, node: fx.Node) -> None:
        target, args, kwargs = node.target, node.args, node.kwargs
        name = getattr(target, "__name__", str(target))
        if target in ADD_FUNCTIONS or target in MUL_FUNCTIONS:
            self._binary(node, BINARY_ADD if target in ADD_FUNCTIONS else BINARY_MUL)
        elif target is F.interpolate:
            if kwargs.get("size") is not None or (len(args) > 1 and args[1] is not None):
                raise self._refuse(node, "resizing to a size")
            factor = kwargs.get("scale_factor", args[2] if len(args) > 2 else None)
            self._nearest(node, args[0], kwargs.get("mode", args[3] if len(args) > 3 else "nearest"), factor)
        elif target in (F.leaky_relu,):
            slope = kwargs.get("negative_slope", args[1] if len(args) > 1 else 0.01)
            self._emit(node, "ReLU", [args[0]], {0: float(slope)})
        elif target in (F.relu, torch.relu, "relu"):
            self._emit(node, "ReLU", [args[0]], {})
        elif target in (torch.cat, torch.concat):
            tensors, dim = args[0], kwargs.get("dim", args[1] if len(args) > 1 else 0)
            if dim not in (1, -3):
                raise self._refuse(node, f"concatenation along dim {dim}")
            self._emit(node, "Concat", list(tensors), {0: 0})
        else:
            raise self._refuse(node, f"'{name}'")

    def _binary(self, node: fx.Node, op: int) -> None:
        if node.kwargs.get("alpha", 1) != 1:
            raise self._refuse(node, "add with alpha")
        a, b = node.args[0], node.args[1]
        if _is_tensor(a) and _is_tensor(b):
            self._emit(node, "BinaryOp", [a, b], {0: op})
        elif _is_tensor(a) != _is_tensor(b) and isinstance(b if _is_tensor(a) else a, (int, float)):
            tensor, scalar = (a, b) if _is_tensor(a) else (b, a)
            self._emit(node, "BinaryOp", [tensor], {0: op, 1: 1, 2: float(scalar)})
        else:
            raise self._refuse(node, f"'{node.target}' on non-tensor operands")


def _fused(layers: list[_Layer]) -> list[_Layer]:
    """The layers with each activation that alone reads a convolution folded into it, and each `a * c + b`
    whose product is read only by the sum made one Eltwise: as ncnnoptimize writes them, so a value makes
    one trip through memory instead of two or three (x4plus's 279 activations and 184 BinaryOps)."""
    producer = {blob: layer for layer in layers for blob in layer.outputs}
    readers: dict[str, int] = {}
    for layer in layers:
        for blob in layer.inputs:
            readers[blob] = readers.get(blob, 0) + 1
    dropped: set[int] = set()
    for layer in layers:
        sources = [producer.get(blob) for blob in layer.inputs]
        if layer.kind == "ReLU" and sources[0] is not None and sources[0].kind == "Convolution" \
                and readers[layer.inputs[0]] == 1 and ACTIVATION not in sources[0].params:
            conv, slope = sources[0], layer.params.get(0, 0.0)
            conv.params[ACTIVATION] = LEAKY_RELU if slope else RELU
            if slope:
                conv.params[ACTIVATION_PARAMS] = (float(slope),)
            conv.outputs = layer.outputs
            dropped.add(id(layer))
        elif layer.kind == "BinaryOp" and layer.params == {0: BINARY_ADD} and len(layer.inputs) == 2:
            scaled = [i for i, source in enumerate(sources) if source is not None and source.kind == "BinaryOp"
                      and source.params.get(0) == BINARY_MUL and source.params.get(1) == 1
                      and readers[layer.inputs[i]] == 1]
            if scaled:
                product = sources[scaled[0]]
                coefficients = [1.0, 1.0]
                coefficients[scaled[0]] = float(product.params[2])
                layer.inputs[scaled[0]] = product.inputs[0]
                layer.kind, layer.params = "Eltwise", {0: ELTWISE_SUM, 1: tuple(coefficients)}
                dropped.add(id(product))
    return [layer for layer in layers if id(layer) not in dropped]


def _param(key: int, value: int | float | tuple[float, ...]) -> str:
    if isinstance(value, tuple):
        return f"{ARRAY_KEY - key}={len(value)}," + ",".join(_number(v) for v in value)
    return f"{key}={_number(value)}"


def _flat(args: tuple, kwargs: dict) -> list[object]:
    flat: list[object] = []
    for value in (*args, *kwargs.values()):
        flat.extend(value if isinstance(value, (list, tuple)) else [value])
    return flat


def _number(value: int | float) -> str:
    """ncnn reads a value as a float when it has a '.' or an exponent."""
    return f"{value:e}" if isinstance(value, float) else str(value)


def convert_to_ncnn(module: nn.Module, fp16: bool = False) -> NcnnModel:
    """`module` (eval mode, CPU) as ncnn param text and weight bytes; NcnnExportError if it cannot be."""
    with torch.no_grad():
        return _Converter(module.eval().cpu(), fp16).convert()


def ncnn_paths(folder: str | Path, name: str, scale: int) -> tuple[Path, Path]:
    """Upscayl's layout: `FOLDER/models/NAME-xSCALE.param` and `.bin`."""
    stem = Path(folder) / "models" / f"{name}-x{scale}"
    return stem.with_suffix(".param"), stem.with_suffix(".bin")


def export_ncnn(module: nn.Module, folder: str | Path, name: str, scale: int, fp16: bool = False,
                overwrite: bool = False) -> tuple[Path, Path]:
    """Convert, then write both files atomically (neither over an existing file unless `overwrite`)."""
    model = convert_to_ncnn(module, fp16)
    param_path, bin_path = ncnn_paths(folder, name, scale)
    if not overwrite:
        for path in (param_path, bin_path):
            if path.exists():
                raise TargetExistsError(path)
    param_path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(bin_path, lambda tmp: tmp.write_bytes(model.weights), overwrite=overwrite)
    atomic_write(param_path, lambda tmp: tmp.write_text(model.param, encoding="ascii"), overwrite=overwrite)
    return param_path, bin_path
