"""The PyTorch engine: a `LoadedModel` on CUDA, Apple MPS or the CPU, running one tile at a time
(the upscaler around it does the tiling)."""

from __future__ import annotations

import threading
import warnings
from collections.abc import Callable, Iterable, Iterator

import numpy as np
import torch
import torch.utils.mkldnn
from torch import nn

from engine.archs.networks import ClassicGenerator, CompactGenerator
from engine.device import describe_device, resolve_device
from engine.torch_threads import handed_down_kept, one_intra_op_thread
from engine.models.registry import LoadedModel
from engine.upscaling.backend import UPSCALE_PRECISIONS, OptionsError, TileBackend, whole_image_pixels
from engine.upscaling.tile_threads import TileThreads
from engine.upscaling.tiling import UpscaleCancelled, auto_tile_size

# Our own convolution-only networks: channels_last measured faster for them (bench/upscale_speed.py).
# Third-party forwards may .view() their activations, which channels_last breaks, so they keep NCHW.
CHANNELS_LAST_ARCHS = (CompactGenerator, ClassicGenerator)
TileNetwork = Callable[[torch.Tensor], torch.Tensor]


def resolve_dtype(precision: str, device: torch.device, model: LoadedModel) -> torch.dtype:
    """fp32 on CPUs; on GPUs half precision when the model supports it. 'auto' prefers fp16: against fp32,
    default-x4 (faithful-x4) comes out at 73 (74) dB PSNR in fp16 and 56 (60) dB in bf16 (measured with
    the CPU's kernels; bench/upscale_speed.py checks it on a GPU)."""
    if precision not in UPSCALE_PRECISIONS:
        raise OptionsError(f"precision must be one of {', '.join(UPSCALE_PRECISIONS)}, not {precision!r}")
    if device.type == "cpu":
        if precision in ("fp16", "bf16"):
            raise OptionsError("half precision (fp16/bf16) is for GPUs; use fp32 or auto on the CPU")
        return torch.float32
    bf16_ok = model.supports_bf16 and device.type == "cuda" and torch.cuda.is_bf16_supported()  # MPS: fp16
    wanted = {"fp32": [], "fp16": ["fp16"], "bf16": ["bf16"], "auto": ["fp16", "bf16"]}[precision]
    for name in wanted:
        if name == "bf16" and bf16_ok:
            return torch.bfloat16
        if name == "fp16" and model.supports_half:
            return torch.float16
    if precision != "auto" and wanted:
        raise OptionsError(f"{model.name} does not support {precision}")
    return torch.float32


def _blocked_compact(net: CompactGenerator) -> TileNetwork:
    """The compact generator with its body in oneDNN's blocked layout, weights packed once (for fp32 on a
    CPU). Measured here, 8 tiles of 268 (352) px on two tile threads, process CPU time: NCHW 1.70 (3.38) s,
    channels_last 1.52 (2.69) s, blocked 1.39 (2.45) s."""
    with warnings.catch_warnings():  # torch declares its oneDNN modules with the deprecated jit.script_method
        warnings.simplefilter("ignore", FutureWarning)
        body = torch.utils.mkldnn.to_mkldnn(nn.Sequential(*net.body))  # new modules; `net` keeps its own

    def forward(x: torch.Tensor) -> torch.Tensor:
        return net.finish(body(x.to_mkldnn()).to_dense(), x)

    return forward


def network_for(device: torch.device, dtype: torch.dtype,
                model: LoadedModel) -> tuple[TileNetwork, torch.memory_format]:
    """How to run `model` there, and the memory layout its input should have: the compact generator's
    blocked body for fp32 on CPUs; channels_last for our convolutional networks on CPUs and CUDA; the
    model as it is, in the default layout, otherwise."""
    module = model.module
    if (device.type == "cpu" and dtype == torch.float32 and isinstance(module, CompactGenerator)
            and torch.backends.mkldnn.is_available()):
        return _blocked_compact(module), torch.contiguous_format
    if device.type in ("cpu", "cuda") and isinstance(module, CHANNELS_LAST_ARCHS):
        return module, torch.channels_last
    return module, torch.contiguous_format


class TorchBackend(TileBackend):
    """A model placed on a device with a precision; on a CPU its tiles run one per core. A cancel also
    stops the tiles in flight at their next layer (a check before each module runs), so a heavy model's
    abandoned tile does not keep a core busy for a minute."""

    def __init__(self, model: LoadedModel, device: str | torch.device = "auto", precision: str = "auto") -> None:
        self.model = model
        self.device = resolve_device(device) if isinstance(device, str) else device
        self.dtype = resolve_dtype(precision, self.device, model)
        model.module.to(device=self.device, dtype=self.dtype)
        self._network, self.memory_format = network_for(self.device, self.dtype, model)
        model.module.to(memory_format=self.memory_format)
        cores = torch.get_num_threads() if self.device.type == "cpu" else 1
        with handed_down_kept():  # the tile threads keep their own count; threads started later get torch's
            super().__init__(cores, one_intra_op_thread if self.device.type == "cpu" else None)
        bytes_per_value = torch.finfo(self.dtype).bits // 8
        self.tile = auto_tile_size(self.device, model.widest_channels, model.scale, bytes_per_value, cores)
        if self.device.type == "cpu":
            self.whole_image_pixels = whole_image_pixels(model.widest_channels, cores)
        self._all_cores: TileThreads | None = None  # started at the first small image
        self._all_cores_lock = threading.Lock()
        self._cancel: threading.Event | None = None
        self._hooks = [layer.register_forward_pre_hook(self._stop_if_cancelled)
                       for layer in model.module.modules() if not any(layer.children())]

    def _stop_if_cancelled(self, _module: nn.Module, _inputs: object) -> None:
        """Only this backend's own tiles stop: the model may run elsewhere once the backend is closed."""
        if self._cancel is not None and self._cancel.is_set() and (
                self._threads.runs_here() or (self._all_cores is not None and self._all_cores.runs_here())):
            raise UpscaleCancelled()

    @property
    def description(self) -> str:
        threads = f", {self.workers} tile threads" if self.device.type == "cpu" else ""
        return f"PyTorch on {describe_device(self.device)}{threads}"

    def forward(self, tile: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            x = torch.from_numpy(tile)[None].to(self.device, self.dtype).contiguous(memory_format=self.memory_format)
            return self._network(x)[0].float().cpu().numpy()

    def forward_all_cores(self, tile: np.ndarray) -> np.ndarray:
        """The tile on a thread of its own whose torch ops use every core (the tile threads use one each)."""
        with self._all_cores_lock:
            if self._all_cores is None:
                cores = self.workers
                with handed_down_kept():
                    self._all_cores = TileThreads(1, lambda: torch.set_num_threads(cores))
        return next(self._all_cores.map(self.forward, [tile]))

    def run_tiles(self, fn: Callable[[np.ndarray], np.ndarray], items: Iterable[np.ndarray],
                  cancel: threading.Event | None = None) -> Iterator[np.ndarray]:
        self._cancel = cancel
        return super().run_tiles(fn, items, cancel)

    def after_out_of_memory(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.empty_cache()

    def close(self) -> None:
        """Also take the cancel checks off the model, unless a cancelled tile may still be running, which
        they stop (they stop nothing else)."""
        if self._cancel is None or not self._cancel.is_set():
            for hook in self._hooks:
                hook.remove()
        if self._all_cores is not None:
            self._all_cores.close()
        super().close()
