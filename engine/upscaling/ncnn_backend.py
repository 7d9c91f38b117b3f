"""The ncnn engine: a converted model (`engine.models.ncnn_cache`) on the CPU or a Vulkan GPU.

On the CPU ncnn's Winograd 3x3 convolutions do fewer multiplications than PyTorch's: Real-ESRGAN x4plus
runs up to 1.7x faster than PyTorch on some CPUs, slower on others (engine.upscaling.cpu_engine). Its
Vulkan path runs on any GPU with a Vulkan driver (AMD, Intel, NVIDIA, Apple through MoltenVK). Nothing here
imports torch.
"""

from __future__ import annotations

import functools
import os
import threading
from dataclasses import dataclass

import numpy as np

from engine.io.silenced import silenced_output
from engine.models.ncnn_cache import NcnnModel
from engine.upscaling.backend import UPSCALE_PRECISIONS, OptionsError, TileBackend, whole_image_pixels
from engine.upscaling.tiling import MIN_TILE, cpu_tile_size

INPUT_BLOB, OUTPUT_BLOB = "data", "output"
VULKAN_TILE = 256  # GPUs: big enough to keep one busy, small enough for a few hundred MB of activations
# ncnn's GpuInfo.type(): what kind of device a Vulkan driver exposes
DEVICE_KINDS = {0: "discrete GPU", 1: "integrated GPU", 2: "virtual GPU", 3: "software, on the CPU"}
SOFTWARE = 3


class NcnnUnavailable(RuntimeError):
    """The ncnn package cannot be imported here."""


@dataclass(frozen=True)
class VulkanDevice:
    """A Vulkan device ncnn sees: its index for `--device vulkan:N`, its name and kind."""

    index: int
    name: str
    kind: int

    @property
    def is_real_gpu(self) -> bool:
        """A GPU rather than a driver that runs Vulkan on the CPU (Mesa's llvmpipe), which is slower than
        ncnn's own CPU path."""
        return self.kind != SOFTWARE

    @property
    def label(self) -> str:
        return f"Vulkan: {self.name} ({DEVICE_KINDS.get(self.kind, 'GPU')})"


def _ncnn():  # noqa: ANN202 - the ncnn module
    try:
        import ncnn
    except ImportError as exc:
        raise NcnnUnavailable(f"the ncnn package is not installed ({exc})") from None
    return ncnn


@functools.cache
def vulkan_devices() -> tuple[VulkanDevice, ...]:
    """The Vulkan devices on this machine, found once per process (ncnn prints each device's properties
    while it looks; that goes to the null device)."""
    try:
        ncnn = _ncnn()
    except NcnnUnavailable:
        return ()
    with silenced_output():
        count = ncnn.get_gpu_count()
    devices = []
    for index in range(count):
        info = ncnn.get_gpu_info(index)
        devices.append(VulkanDevice(index, info.device_name(), info.type()))
    return tuple(devices)


def ncnn_status() -> dict[str, str]:
    """What ncnn can run on here, in words (Help > About)."""
    try:
        ncnn = _ncnn()
    except NcnnUnavailable as exc:
        return {"ncnn": str(exc)}
    devices = vulkan_devices()
    gpus = "; ".join(f"vulkan:{d.index} = {d.name} ({DEVICE_KINDS.get(d.kind, 'GPU')})" for d in devices)
    return {"ncnn": f"{ncnn.__version__}, running on the CPU ({cpu_threads()} threads, Winograd convolutions)",
            "Vulkan": gpus or "no Vulkan device found (install the GPU's Vulkan driver to use it)"}


def cpu_threads() -> int:
    """One tile thread per core this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


class NcnnBackend(TileBackend):
    """A converted model in ncnn. On the CPU each tile runs on one thread, one tile per core; on a Vulkan
    device (`vulkan`, its index) tiles run one after the other on the GPU."""

    def __init__(self, converted: NcnnModel, vulkan: int | None = None, precision: str = "auto",
                 winograd63: bool = True) -> None:
        if converted.info is None or converted.param is None or converted.weights is None:
            raise OptionsError(f"ncnn cannot run this model: {converted.refusal}")
        if precision not in UPSCALE_PRECISIONS:
            raise OptionsError(f"precision must be one of {', '.join(UPSCALE_PRECISIONS)}, not {precision!r}")
        if vulkan is None and precision in ("fp16", "bf16"):
            raise OptionsError("half precision (fp16/bf16) is for GPUs; use fp32 or auto on the CPU")
        if precision == "bf16":
            raise OptionsError("ncnn's Vulkan path runs fp16 or fp32, not bf16")
        self.model = converted.info
        self.converted = converted
        self.vulkan = vulkan
        # On the CPU: whether narrow 3x3 convolutions may use Winograd F(6,3) (engine.upscaling.cpu_engine)
        self.winograd63 = winograd63 or vulkan is not None
        self._pools = threading.local()  # per tile thread (engine.upscaling.tile_threads): unlocked pools
        self.device_name = "CPU"
        self.half = vulkan is not None and precision in ("auto", "fp16") and converted.info.supports_half
        if vulkan is not None:
            devices = vulkan_devices()
            if not 0 <= vulkan < len(devices):
                raise OptionsError(f"device vulkan:{vulkan} was asked for, but this machine has "
                                   f"{len(devices)} Vulkan device(s)")
            self.device_name = devices[vulkan].name
        self._net = self._load(threads=1)  # one tile per core (engine.upscaling.tile_threads)
        self._all_cores_net: object | None = None
        self._all_cores_lock = threading.Lock()
        super().__init__(cpu_threads() if vulkan is None else 1)
        scale, widest = converted.info.scale, converted.info.widest_channels
        self.tile = VULKAN_TILE if vulkan is not None else cpu_tile_size(widest, scale, 4, self.workers)
        self.tile = max(MIN_TILE, self.tile)
        if vulkan is None:
            self.whole_image_pixels = whole_image_pixels(widest, self.workers)

    def _load(self, threads: int):  # noqa: ANN202 - an ncnn.Net
        """The converted model in a new ncnn net whose convolutions run on `threads` threads (ncnn fixes
        a Winograd convolution's thread count when it loads)."""
        ncnn = _ncnn()
        net = ncnn.Net()
        options = net.opt
        options.use_vulkan_compute = self.vulkan is not None
        if self.vulkan is not None:
            net.set_vulkan_device(self.vulkan)
        options.num_threads = threads
        options.use_winograd_convolution = True
        options.use_winograd63_convolution = self.winograd63
        for flag in ("use_fp16_storage", "use_fp16_packed", "use_fp16_arithmetic"):
            setattr(options, flag, self.half)
        options.use_bf16_storage = False
        param, weights = self.converted.param, self.converted.weights
        if net.load_param(str(param)) != 0 or net.load_model(str(weights)) != 0:
            raise OptionsError(f"ncnn could not load the conversion of {self.model.name} in {param.parent}")
        return net

    @property
    def description(self) -> str:
        if self.vulkan is None:
            winograd = "Winograd" if self.winograd63 else "Winograd F(4,3)"
            return f"ncnn on the CPU ({self.workers} tile threads, {winograd}, fp32)"
        return f"ncnn on Vulkan: {self.device_name} ({'fp16' if self.half else 'fp32'})"

    def _allocators(self) -> tuple[object, object]:
        """This tile thread's own memory pools for blobs and workspace: a tile reuses the last one's memory
        instead of asking the heap again (7% less CPU time for default-x4 on a 768-px input here)."""
        if not hasattr(self._pools, "blob"):
            ncnn = _ncnn()
            self._pools.blob, self._pools.workspace = ncnn.UnlockedPoolAllocator(), ncnn.UnlockedPoolAllocator()
        return self._pools.blob, self._pools.workspace

    def forward(self, tile: np.ndarray) -> np.ndarray:
        return self._extract(self._net, tile)

    def forward_all_cores(self, tile: np.ndarray) -> np.ndarray:
        """The tile on a second net with a thread per core, loaded at the first small image (a Winograd
        convolution keeps the thread count it was loaded with)."""
        with self._all_cores_lock:
            if self._all_cores_net is None:
                self._all_cores_net = self._load(threads=self.workers)
        return self._extract(self._all_cores_net, tile)

    def _extract(self, net: object, tile: np.ndarray) -> np.ndarray:
        ncnn = _ncnn()
        data = np.ascontiguousarray(tile, dtype=np.float32)
        extractor = net.create_extractor()
        # This tile thread's unlocked pools serve only the one-thread net on the CPU: the all-cores net's
        # threads share ncnn's default (locked) pools, and Vulkan keeps its own.
        if self.vulkan is None and net is self._net:
            blob, workspace = self._allocators()
            extractor.set_blob_allocator(blob)
            extractor.set_workspace_allocator(workspace)
        extractor.input(INPUT_BLOB, ncnn.Mat(data))  # the Mat refers to `data`, alive until extract returns
        status, out = extractor.extract(OUTPUT_BLOB)
        if status != 0:
            raise RuntimeError(f"ncnn failed on a {tile.shape[2]}x{tile.shape[1]} tile (status {status})")
        return np.array(out, dtype=np.float32)  # a copy: `out` belongs to the extractor

    def after_out_of_memory(self) -> None:
        """ncnn allocates per extraction and keeps no cache to give back."""
