"""The ncnn backend: the same pictures as PyTorch through the same upscaler, models converted once per
file into the cache (damaged entries rebuilt), the `auto` rule, Vulkan on whatever device this machine
has (Mesa's software one in CI), cancels that do not wait for a slow tile, and a start without torch."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from engine.archs.networks import ClassicGenerator, CompactGenerator
from engine.cli.main import main
from engine.errors import ModelLoadError
from engine.models import ncnn_cache
from engine.models.export import export_generator
from engine.models.registry import LoadedModel, bundled_models, load_model
from engine.resources import resource_path
from engine.upscaling import backends, cpu_engine, ncnn_backend
from engine.upscaling.backend import OptionsError, TileBackend, whole_image_pixels
from engine.upscaling.backends import open_backend
from engine.upscaling.ncnn_backend import NcnnBackend, VulkanDevice, vulkan_devices
from engine.upscaling.tile_threads import TileThreads
from engine.upscaling.tiling import UpscaleCancelled, run_to_end
from engine.upscaling.torch_backend import TorchBackend
from engine.upscaling.upscaler import Upscaler

ROOT = Path(__file__).resolve().parent.parent
AGREEMENT_DB = 60.0  # the bar for ncnn fp32 against PyTorch fp32
BIG = "realesrgan-x4plus"  # checked by bench/upscale_speed.py --agreement (a minute per photo on 2 cores)
SMALL_BUNDLED = [name for name in bundled_models() if name != BIG]
HAS_VULKAN = bool(vulkan_devices())
needs_vulkan = pytest.mark.skipif(not HAS_VULKAN, reason="no Vulkan device here (CI installs Mesa's software "
                                                         "driver: scripts/system-deps.sh --vulkan)")


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    top = float(np.iinfo(a.dtype).max)
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float(10 * np.log10(top**2 / max(mse, 1e-20)))


def photo(side: int = 40) -> np.ndarray:
    """A bundled photo crop as floats, so results come back as 16-bit and the PSNR is not capped by 8-bit
    rounding."""
    sample = sorted(resource_path("samples").glob("*.jpg"))[0]
    return np.asarray(Image.open(sample).convert("RGB"), dtype=np.float32)[:side, :side] / 255


def tiny_file(tmp_path: Path, name: str = "tiny.safetensors", seed: int = 0) -> Path:
    torch.manual_seed(seed)
    net = CompactGenerator(3, num_feat=8, num_conv=2, scale=4)
    return export_generator(tmp_path / name, net.state_dict(), net.spec(), (0.0, 1.0))


def load_model_from(net: torch.nn.Module) -> LoadedModel:
    return LoadedModel(module=net.eval(), scale=4, in_channels=1, value_range=(-1.0, 1.0), name="net",
                       kind="srgan-studio", supports_half=True, supports_bf16=True)


def upscale(backend: TileBackend, image: np.ndarray, tile: int = 0) -> np.ndarray:
    upscaler = Upscaler(backend, tile=tile)
    try:
        return upscaler.upscale(image)
    finally:
        upscaler.close()


# ----------------------------------------------------------------------------- agreement
@pytest.mark.parametrize("name", SMALL_BUNDLED)
def test_every_bundled_model_gives_pytorch_s_picture_in_ncnn(name: str) -> None:
    image = photo(24 if "x4plus" in name else 40)
    ncnn_result = upscale(open_backend(name, "ncnn", "cpu").backend, image, tile=16)  # several tiles, seams
    torch_result = upscale(open_backend(name, "torch", "cpu").backend, image, tile=16)
    assert ncnn_result.dtype == np.uint16 and ncnn_result.shape == torch_result.shape
    assert psnr(ncnn_result, torch_result) >= AGREEMENT_DB


def test_ncnn_without_winograd_f63_runs_other_kernels_to_the_same_picture() -> None:
    """default-x4's 32-channel convolutions: ncnn runs them in Winograd F(6,3) unless told not to, which
    auto does where F(4,3) was timed faster (engine.upscaling.cpu_engine)."""
    image = photo(40)
    reference = upscale(open_backend("default-x4", "torch", "cpu").backend, image, tile=16)
    f63, f43 = (open_backend("default-x4", "ncnn", "cpu", winograd63=choice).backend for choice in (True, False))
    assert f63.winograd63 and not f43.winograd63 and "F(4,3)" in f43.description
    tile = np.ascontiguousarray(image[:24, :24].transpose(2, 0, 1))
    assert not np.array_equal(f63.forward(tile), f43.forward(tile))  # other kernels ran
    for backend in (f63, f43):
        assert psnr(upscale(backend, image, tile=16), reference) >= AGREEMENT_DB


@needs_vulkan
@pytest.mark.timeout(180)
def test_vulkan_gives_pytorch_s_picture_in_fp32_and_close_to_it_in_fp16(tmp_path: Path) -> None:
    """Kept tiny: a software Vulkan device is slow. The first device, whatever it is (llvmpipe in CI)."""
    path = tiny_file(tmp_path)
    image = photo(20)
    reference = upscale(open_backend(path, "torch", "cpu").backend, image)
    full = open_backend(path, "ncnn", "vulkan", precision="fp32").backend
    assert full.description.startswith(f"ncnn on Vulkan: {vulkan_devices()[0].name}")
    assert psnr(upscale(full, image), reference) >= AGREEMENT_DB
    half = open_backend(path, "auto", "vulkan:0", precision="fp16").backend
    assert "fp16" in half.description and psnr(upscale(half, image), reference) >= 40


class CountingBackend(NcnnBackend):
    """Counts the tiles that ran one per core and the images that ran whole on every core."""

    def __init__(self, converted: ncnn_cache.NcnnModel) -> None:
        super().__init__(converted)
        self.tiles = self.wholes = 0

    def forward(self, tile: np.ndarray) -> np.ndarray:
        self.tiles += 1
        return super().forward(tile)

    def forward_all_cores(self, tile: np.ndarray) -> np.ndarray:
        self.wholes += 1
        return super().forward_all_cores(tile)


def test_a_small_image_runs_whole_on_every_core_and_a_bigger_one_in_tiles(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Cut into one tile per core, a small image would recompute the overlaps: it runs whole on a net with
    a thread per core instead, and gives the same picture."""
    monkeypatch.setattr(ncnn_backend, "cpu_threads", lambda: 2)
    path = tiny_file(tmp_path)
    backend = CountingBackend(ncnn_cache.ncnn_model(path))
    assert backend.whole_image_pixels == whole_image_pixels(backend.model.widest_channels, 2) > 40 * 40
    image, upscaler = photo(40), Upscaler(backend)
    whole = upscaler.upscale(image)
    assert (backend.wholes, backend.tiles) == (1, 0)
    backend.whole_image_pixels = 40 * 40 - 1
    tiled = upscaler.upscale(image)
    upscaler.close()
    assert backend.wholes == 1 and backend.tiles >= 2  # at least one tile per core
    reference = upscale(open_backend(path, "torch", "cpu").backend, image)
    assert psnr(whole, reference) >= AGREEMENT_DB and psnr(tiled, reference) >= AGREEMENT_DB


@pytest.fixture
def two_threads() -> Iterator[None]:
    """The process at two intra-op threads (tests otherwise run at one, tests/conftest.py): the torch
    backend takes one tile thread per thread of the caller's."""
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(1)


def test_pytorch_runs_a_small_image_whole_on_a_thread_that_uses_every_core(two_threads: None) -> None:
    torch.manual_seed(0)
    backend = TorchBackend(load_model_from(ClassicGenerator(1, 4)), "cpu")  # Compact runs a copy in oneDNN
    seen: list[int] = []
    backend.model.module.register_forward_pre_hook(lambda _m, _x: seen.append(torch.get_num_threads()))
    upscaler, image = Upscaler(backend), photo(40)[..., :1]
    whole = upscaler.upscale(image)
    backend.whole_image_pixels = 0
    tiled = upscaler.upscale(image)
    assert seen[0] == backend.workers and set(seen[1:]) == {1} and len(seen) > 2
    assert psnr(whole, tiled) >= AGREEMENT_DB
    cancel = threading.Event()  # a cancel stops the whole image's run at its next layer too
    runs = backend.run_tiles(backend.forward_all_cores, [np.zeros((1, 8, 8), np.float32)] * 3, cancel)
    next(runs)
    cancel.set()
    with pytest.raises(UpscaleCancelled):
        backend.forward_all_cores(np.zeros((1, 8, 8), np.float32))
    runs.close()
    upscaler.close()
    assert torch.get_num_threads() == backend.workers  # the caller's count is untouched


def test_one_core_or_a_gpu_never_runs_an_image_whole(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ncnn_backend, "cpu_threads", lambda: 1)
    assert NcnnBackend(ncnn_cache.ncnn_model(tiny_file(tmp_path))).whole_image_pixels == 0


# ----------------------------------------------------------------------------- the conversion cache
def test_a_model_file_is_converted_once_by_content_and_a_damaged_entry_is_rebuilt(tmp_path: Path) -> None:
    path = tiny_file(tmp_path)
    first = ncnn_cache.ncnn_model(path)
    assert first.converted_now and first.info is not None and first.info.name == "tiny"
    copy = tmp_path / "elsewhere" / "renamed.safetensors"
    copy.parent.mkdir()
    copy.write_bytes(path.read_bytes())
    again = ncnn_cache.ncnn_model(copy)  # same content: nothing converted, its own name
    assert not again.converted_now and again.param == first.param and again.info.name == "renamed"
    image = photo(16)
    expected = upscale(NcnnBackend(again), image)
    first.weights.write_bytes(first.weights.read_bytes()[:-8])  # a truncated .bin
    rebuilt = ncnn_cache.ncnn_model(path)
    assert rebuilt.converted_now and np.array_equal(upscale(NcnnBackend(rebuilt), image), expected)
    (first.param.parent / ncnn_cache.RECORD).write_text("{not json")
    assert ncnn_cache.ncnn_model(path).converted_now
    assert not ncnn_cache.ncnn_model(path).converted_now
    other = tiny_file(tmp_path, "other.safetensors", seed=1)  # other weights: another entry
    assert ncnn_cache.ncnn_model(other).param != first.param


def test_a_model_ncnn_cannot_run_goes_to_pytorch_with_a_note_or_is_refused(tmp_path: Path) -> None:
    torch.manual_seed(0)
    net = ClassicGenerator(1, 4)
    path = export_generator(tmp_path / "classic.safetensors", net.state_dict(), net.spec(), net.value_range)
    opened = open_backend(path, "auto", "cpu")
    assert isinstance(opened.backend, TorchBackend)
    assert opened.note.startswith("ncnn cannot run this model:") and "BatchNorm2d" in opened.note
    record = json.loads((ncnn_cache.entry_folder(path, "ema") / ncnn_cache.RECORD).read_text())
    assert "BatchNorm2d" in record["refusal"]  # the next launch goes to PyTorch without tracing it again
    assert not ncnn_cache.ncnn_model(path).converted_now
    with pytest.raises(OptionsError, match="ncnn cannot run this model"):
        open_backend(path, "ncnn", "auto")


def test_an_unwritable_cache_folder_means_pytorch_with_a_note(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tiny_file(tmp_path)
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the cache folder would be")
    monkeypatch.setenv("SRGAN_STUDIO_CACHE", str(blocker))
    opened = open_backend(path, "auto", "cpu")
    assert isinstance(opened.backend, TorchBackend) and "cannot keep the ncnn conversion" in opened.note
    with pytest.raises(OptionsError, match="cannot keep the ncnn conversion"):
        open_backend(path, "ncnn", "cpu")


def test_a_model_given_in_memory_is_converted_itself_not_taken_for_the_file(tmp_path: Path) -> None:
    path = tiny_file(tmp_path)
    other = load_model(tiny_file(tmp_path, "other.safetensors", seed=1))
    from_file = ncnn_cache.ncnn_model(path)
    given = ncnn_cache.ncnn_model(path, loaded=other)
    assert given.param != from_file.param and given.weights.read_bytes() != from_file.weights.read_bytes()


PAIRED = "default-x4"  # a bundled model with a strength partner (faithful-x4)


def test_a_strength_mix_is_converted_once_gives_pytorch_s_mix_and_old_mixes_go(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A batch at a strength used before finds its conversion by the files' contents and the strength (no
    torch needed); the mixes kept are bounded, the least recently used removed first."""
    monkeypatch.setenv("SRGAN_STUDIO_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(ncnn_cache, "KEPT_MIXES", 2)
    first = ncnn_cache.ncnn_model(PAIRED, strength=0.5)
    again = ncnn_cache.ncnn_model(PAIRED, strength=0.5)
    assert first.converted_now and not again.converted_now and again.param == first.param
    image = photo(24)
    mixed = upscale(open_backend(PAIRED, "ncnn", "cpu", strength=0.5).backend, image)
    reference = upscale(open_backend(PAIRED, "torch", "cpu", strength=0.5).backend, image)
    plain = upscale(open_backend(PAIRED, "ncnn", "cpu").backend, image)
    assert psnr(mixed, reference) >= AGREEMENT_DB and psnr(mixed, plain) < psnr(mixed, reference) - 40  # the mix
    ncnn_cache.ncnn_model(PAIRED, strength=0.25)
    ncnn_cache.ncnn_model(PAIRED, strength=0.5)  # used again: now the most recent
    ncnn_cache.ncnn_model(PAIRED, strength=0.75)
    kept = {folder for folder in (tmp_path / "cache" / "ncnn" / ncnn_cache.MIXES).iterdir()}
    assert kept == {first.param.parent, ncnn_cache.mix_folder(bundled_models()[PAIRED], "ema", 0.75)}
    with pytest.raises(ModelLoadError, match="has no strength setting"):
        ncnn_cache.ncnn_model(BIG, strength=0.5)


# ----------------------------------------------------------------------------- choosing the engine
def test_auto_picks_pytorch_on_a_cuda_or_mps_machine_else_ncnn(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tiny_file(tmp_path)
    monkeypatch.setattr(backends, "torch_gpu_available", lambda: False)
    opened = open_backend(path)
    assert isinstance(opened.backend, NcnnBackend) and opened.backend.vulkan is None and not opened.note
    assert opened.backend.workers == ncnn_backend.cpu_threads()
    assert isinstance(open_backend(path, "torch").backend, TorchBackend)
    monkeypatch.setattr(backends, "torch_gpu_available", lambda: True)
    monkeypatch.setattr(backends, "_torch", lambda *args: "pytorch on the GPU")
    assert open_backend(path).backend == "pytorch on the GPU"


def test_auto_can_prefer_pytorch_on_a_cpu_and_still_take_a_vulkan_gpu(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    path = tiny_file(tmp_path)
    monkeypatch.setattr(backends, "torch_gpu_available", lambda: False)
    monkeypatch.setattr(backends, "cpu_run", lambda source: cpu_engine.CpuRun("torch"))  # timed faster here
    assert isinstance(open_backend(path).backend, TorchBackend)
    assert isinstance(open_backend(path, "ncnn").backend, NcnnBackend)  # asked for by name
    if HAS_VULKAN:
        assert open_backend(path, "auto", "vulkan").backend.description.startswith("ncnn on Vulkan")


def test_auto_uses_a_real_vulkan_gpu_but_not_a_software_one(monkeypatch: pytest.MonkeyPatch) -> None:
    software = VulkanDevice(0, "llvmpipe (LLVM 15.0.6, 256 bits)", ncnn_backend.SOFTWARE)
    monkeypatch.setattr(ncnn_backend, "vulkan_devices", lambda: (software,))
    assert backends._vulkan_index("auto", None) is None  # ncnn's CPU path is faster than Vulkan on the CPU
    assert backends._vulkan_index("vulkan", 0) == 0  # asked for by name: used
    monkeypatch.setattr(ncnn_backend, "vulkan_devices", lambda: (software, VulkanDevice(1, "Radeon 780M", 1)))
    assert backends._vulkan_index("auto", None) == 1 and backends._vulkan_index("cpu", None) is None


@pytest.mark.parametrize(("backend", "device", "message"), [
    ("torch", "vulkan", "Vulkan devices are ncnn's"), ("ncnn", "cuda", "not cuda"), ("ncnn", "mps", "not mps"),
    ("auto", "vulkan:x", "device must be one of"), ("onnx", "auto", "backend must be one of"),
    ("ncnn", "vulkan:9", "vulkan:9 was asked for")])
def test_impossible_backend_and_device_pairs_are_refused_in_one_line(tmp_path: Path, backend: str, device: str,
                                                                     message: str) -> None:
    with pytest.raises(OptionsError, match=message):
        open_backend(tiny_file(tmp_path), backend, device)


# ----------------------------------------------------------------------------- cancel
class SlowBackend(NcnnBackend):
    """The real ncnn backend, with each tile after the first taking `seconds` more."""

    seconds = 3.0

    def forward(self, tile: np.ndarray) -> np.ndarray:
        self.calls = getattr(self, "calls", 0) + 1
        if self.calls > 1:
            time.sleep(self.seconds)
        return super().forward(tile)


def test_a_cancel_answers_at_once_even_while_a_slow_tile_runs(tmp_path: Path) -> None:
    backend = SlowBackend(ncnn_cache.ncnn_model(tiny_file(tmp_path)))
    upscaler = Upscaler(backend, tile=16, overlap=4)
    cancel = threading.Event()
    steps = upscaler.iter_upscale(np.zeros((64, 64, 3), np.uint8), cancel)
    next(steps)
    threading.Timer(0.3, cancel.set).start()
    started = time.perf_counter()
    with pytest.raises(UpscaleCancelled):
        run_to_end(steps)
    assert time.perf_counter() - started < SlowBackend.seconds - 1  # it did not wait for the tile in flight
    upscaler.close()


def test_a_cancel_stops_a_pytorch_tile_at_its_next_layer() -> None:
    """PyTorch's tiles in flight stop too (ncnn's cannot: they finish unread), so a heavy model's abandoned
    tile does not keep a core busy."""
    torch.manual_seed(0)
    backend = TorchBackend(load_model_from(ClassicGenerator(1, 4)), "cpu")
    cancel = threading.Event()
    tiles = backend.run_tiles(backend.forward, [np.zeros((1, 8, 8), np.float32)] * 3, cancel)
    assert next(tiles).shape == (1, 32, 32)
    cancel.set()
    on_its_thread = backend._threads._pool.submit(backend.forward, np.zeros((1, 8, 8), np.float32))
    with pytest.raises(UpscaleCancelled):
        on_its_thread.result()
    tiles.close()
    backend.close()
    assert backend.forward(np.zeros((1, 8, 8), np.float32)).shape == (1, 32, 32)  # elsewhere the model runs on


def test_tile_threads_wait_for_running_tiles_unless_cancelled() -> None:
    """Closing early waits for what runs (a restart after an out-of-memory error must not overlap it)."""
    threads = TileThreads(1)
    for cancel, waited in ((None, True), (threading.Event(), False)):
        results = threads.map(lambda seconds: time.sleep(seconds) or seconds, [0.0, 1.0, 1.0], cancel)
        assert next(results) == 0.0
        time.sleep(0.1)
        if cancel is not None:
            cancel.set()
        started = time.perf_counter()
        results.close()
        assert (time.perf_counter() - started > 0.5) == waited
    threads.close()


# ----------------------------------------------------------------------------- the command line
def test_cli_takes_a_backend_and_refuses_an_impossible_pair(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    model = tiny_file(tmp_path)
    image = tmp_path / "in.png"
    Image.fromarray((photo(12) * 255).astype(np.uint8)).save(image)
    assert main(["upscale", str(image), "--model", str(model), "--out", str(tmp_path / "a"), "--backend", "ncnn"]) == 0
    assert "in ncnn on the CPU" in capsys.readouterr().err
    assert main(["upscale", str(image), "--model", str(model), "--out", str(tmp_path / "b"), "--backend", "torch"]) == 0
    assert "in PyTorch on CPU" in capsys.readouterr().err
    ours, theirs = (np.asarray(Image.open(tmp_path / d / "in_tiny_x4.png"), dtype=np.int16) for d in "ab")
    assert np.abs(ours - theirs).max() <= 1
    code = main(["upscale", str(image), "--model", str(model), "--backend", "torch", "--device", "vulkan"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "Vulkan devices are ncnn's" in err


def run_python(code: str) -> str:
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True, capture_output=True, text=True,
                          timeout=120).stdout


def test_help_and_a_cached_ncnn_upscale_never_import_torch(tmp_path: Path) -> None:
    model = tiny_file(tmp_path)
    image = tmp_path / "in.png"
    Image.fromarray((photo(12) * 255).astype(np.uint8)).save(image)
    ncnn_cache.ncnn_model(model)  # converted here; the child finds it in the same cache folder
    probe = ("import sys\nfrom engine.cli.main import main\ntry:\n    code = main({args!r})\nexcept SystemExit as e:\n"
             "    code = e.code\nprint(code, 'torch' in sys.modules, 'engine.training.config' in sys.modules)")
    assert run_python(probe.format(args=["upscale", "--help"])).split()[-3:] == ["0", "False", "False"]
    args = ["upscale", str(image), "--model", str(model), "--out", str(tmp_path / "out")]
    assert run_python(probe.format(args=args)).split()[-3:] == ["0", "False", "False"]
    assert (tmp_path / "out" / "in_tiny_x4.png").is_file()
    ncnn_cache.ncnn_model(PAIRED, strength=0.5)  # a strength used before: its mix is in the cache too
    args = ["upscale", str(image), "--model", PAIRED, "--strength", "0.5", "--out", str(tmp_path / "mixed")]
    assert run_python(probe.format(args=args)).split()[-3:] == ["0", "False", "False"]
    assert len(list((tmp_path / "mixed").iterdir())) == 1
