"""Export formats checked in the runtimes that read them: ONNX in onnxruntime, ncnn pairs in ncnn itself,
each against PyTorch's output on a real photo crop; refusals and the CLI's exits."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from engine.archs.networks import ClassicGenerator, CompactGenerator
from engine.cli.main import main
from engine.models.export import export_generator, read_metadata
from engine.models.export_formats import export_model_as
from engine.models.ncnn_export import NcnnExportError, convert_to_ncnn, export_ncnn
from engine.resources import resource_path

onnxruntime = pytest.importorskip("onnxruntime")
ncnn = pytest.importorskip("ncnn")


@pytest.fixture(scope="module")
def photo() -> torch.Tensor:
    """A 24x20 RGB crop of a bundled sample photo, [0, 1], NCHW."""
    image = Image.open(resource_path("samples") / "sample_01.jpg").convert("RGB")
    small = image.resize((24 * 8, 20 * 8)).resize((24, 20), Image.Resampling.BOX)
    return torch.from_numpy(np.asarray(small, dtype=np.float32) / 255).permute(2, 0, 1)[None].contiguous()


def tiny_compact() -> CompactGenerator:
    torch.manual_seed(0)
    return CompactGenerator(3, 8, 2, 4).eval()


def tiny_rrdb() -> nn.Module:
    from spandrel.architectures.ESRGAN import ESRGAN

    torch.manual_seed(0)
    return ESRGAN(in_nc=3, out_nc=3, num_filters=8, num_blocks=2, scale=4).eval()


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    return float(10 * np.log10(1.0 / max(np.mean((a.astype(np.float64) - b) ** 2), 1e-20)))


def run_ncnn(param: Path, weights: Path, image: torch.Tensor) -> np.ndarray:
    net = ncnn.Net()
    net.opt.use_vulkan_compute = False
    assert net.load_param(str(param)) == 0 and net.load_model(str(weights)) == 0
    data = np.ascontiguousarray(image[0].numpy())
    mat = ncnn.Mat(data)  # refers to `data`, which must outlive the extraction
    extractor = net.create_extractor()
    extractor.input("data", mat)
    status, out = extractor.extract("output")
    assert status == 0
    return np.array(out)


@pytest.mark.parametrize("build", [tiny_compact, tiny_rrdb], ids=["compact", "esrgan-rrdb"])
@pytest.mark.parametrize("fp16,threshold", [(False, 45.0), (True, 40.0)], ids=["fp32", "fp16"])
def test_ncnn_matches_pytorch(tmp_path: Path, photo: torch.Tensor, build, fp16: bool, threshold: float) -> None:
    net = build()
    param, weights = export_ncnn(net, tmp_path, "tiny", 4, fp16=fp16)
    assert param == tmp_path / "models" / "tiny-x4.param" and weights.is_file()
    with torch.no_grad():
        expected = net(photo)[0].numpy()
    got = run_ncnn(param, weights, photo)
    assert got.shape == expected.shape == (3, 80, 96)
    assert psnr(got, expected) >= threshold


class ReluAndRaw(nn.Module):
    """A convolution read both through its activation and as it is: the activation cannot be folded in."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 3, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv(x)
        return torch.relu(y) + y * 0.5


def test_ncnn_folds_activations_and_scaled_sums_as_ncnnoptimize_does(tmp_path: Path, photo: torch.Tensor) -> None:
    """RRDB's leaky ReLUs go into their convolutions and its `x * 0.2 + y` into one Eltwise, as in the
    peer's own x4plus files; where a convolution's output is also read as it is, nothing is folded."""
    layers = [line.split()[0] for line in convert_to_ncnn(tiny_rrdb()).param.splitlines()[2:]]
    assert "ReLU" not in layers and layers.count("Eltwise") == 2 * 3 + 2  # 3 RDBs per RRDB, plus each RRDB
    assert "9=2 -23310=1,2.000000e-01" in convert_to_ncnn(tiny_rrdb()).param
    net = ReluAndRaw().eval()
    model = convert_to_ncnn(net)
    assert [line.split()[0] for line in model.param.splitlines()[2:]].count("ReLU") == 1
    param, weights = export_ncnn(net, tmp_path, "both", 1)
    with torch.no_grad():
        expected = net(photo)[0].numpy()
    assert psnr(run_ncnn(param, weights, photo), expected) >= 100


def test_ncnn_fp16_halves_the_weights() -> None:
    full, half = convert_to_ncnn(tiny_compact()), convert_to_ncnn(tiny_compact(), fp16=True)
    assert half.param == full.param
    assert len(half.weights) < 0.6 * len(full.weights)


def test_ncnn_refuses_an_unsupported_operation_in_one_line() -> None:
    with pytest.raises(NcnnExportError) as refused:
        convert_to_ncnn(ClassicGenerator(1, 4))
    message = str(refused.value)
    assert "\n" not in message and "BatchNorm2d" in message


def test_onnx_matches_pytorch_at_another_size(tmp_path: Path, photo: torch.Tensor) -> None:
    net = tiny_compact()
    model = export_generator(tmp_path / "tiny.safetensors", net.state_dict(), net.spec(), net.value_range)
    (out,) = export_model_as(model, "onnx", tmp_path / "tiny.onnx")
    session = onnxruntime.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    for image in (photo, photo[:, :, :13, :17]):  # the exporter traced 32x32: height and width are dynamic
        with torch.no_grad():
            expected = net(image).numpy()
        (got,) = session.run(["output"], {"input": image.numpy()})
        assert got.shape == expected.shape
        assert psnr(got, expected) >= 60


def test_onnx_takes_the_classic_generator_that_ncnn_refuses(tmp_path: Path, photo: torch.Tensor) -> None:
    torch.manual_seed(0)
    net = ClassicGenerator(1, 2).eval()
    model = export_generator(tmp_path / "classic.safetensors", net.state_dict(), net.spec(), net.value_range)
    (out,) = export_model_as(model, "onnx", tmp_path / "classic.onnx")
    grey = photo.mean(dim=1, keepdim=True) * 2 - 1  # the classic generator works in [-1, 1]
    with torch.no_grad():
        expected = net(grey).numpy()
    session = onnxruntime.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    (got,) = session.run(["output"], {"input": grey.numpy()})
    assert got.shape == expected.shape == (1, 1, 40, 48)
    assert psnr((got + 1) / 2, (expected + 1) / 2) >= 60


def test_cli_exports_each_format_and_never_overwrites(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = tmp_path / "myrun"
    run.mkdir()
    net = tiny_compact()
    export_generator(run / "best.safetensors", net.state_dict(), net.spec(), net.value_range, extra={"steps": 7})
    assert main(["export", str(run), "--format", "ncnn", "--out", str(tmp_path / "up")]) == 0
    assert (tmp_path / "up" / "models" / "myrun-x4.param").is_file()
    assert (tmp_path / "up" / "models" / "myrun-x4.bin").is_file()
    assert main(["export", str(run), "--format", "onnx", "--out", str(tmp_path / "m.onnx")]) == 0
    half = tmp_path / "h.safetensors"
    assert main(["export", str(run), "--format", "safetensors", "--fp16", "--out", str(half)]) == 0
    assert read_metadata(half)["steps"] == "7" and half.stat().st_size < (run / "best.safetensors").stat().st_size
    before = (tmp_path / "m.onnx").read_bytes()
    capsys.readouterr()
    assert main(["export", str(run), "--format", "onnx", "--out", str(tmp_path / "m.onnx")]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "already exists" in error
    assert (tmp_path / "m.onnx").read_bytes() == before
    assert main(["export", str(run), "--format", "onnx", "--out", str(tmp_path / "m.onnx"), "--overwrite"]) == 0


def test_cli_bad_inputs_exit_non_zero_in_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    classic = ClassicGenerator(1, 4)
    model = export_generator(tmp_path / "classic.safetensors", classic.state_dict(), classic.spec(),
                             classic.value_range)
    for source, fmt, out in ((tmp_path / "missing.safetensors", "onnx", tmp_path / "a.onnx"),  # no such file
                             (tmp_path, "onnx", tmp_path / "b.onnx"),  # a folder with no run in it
                             (model, "ncnn", tmp_path / "c"),  # an architecture ncnn export refuses
                             (model, "onnx", tmp_path / "no" / "d.onnx")):  # a folder that is not there
        args = ["export", str(source), "--format", fmt, "--out", str(out)]
        capsys.readouterr()
        assert main(args) == 2
        error = capsys.readouterr().err
        assert error.startswith("error: ") and error.count("\n") == 1
    assert not (tmp_path / "c").exists()
