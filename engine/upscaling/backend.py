"""What the upscaler asks of an inference engine: run one tile. Everything else (tiling, seams, channels,
alpha, 16 bits, cancelling, progress) is the upscaler's and the same for every engine.

Two engines implement it: PyTorch (`torch_backend`: CUDA, Apple MPS, the CPU) and ncnn (`ncnn_backend`:
Vulkan on any GPU, or the CPU with Winograd convolutions). This module imports neither, so a process that
runs ncnn never loads torch.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator
from typing import Protocol

import numpy as np

from engine.device import PRECISIONS

BACKEND_CHOICES = ("auto", "torch", "ncnn")
# fp32 everywhere; half precision on GPUs (PyTorch: fp16/bf16; ncnn's Vulkan: fp16). auto: half where it is safe.
UPSCALE_PRECISIONS = ("auto", *PRECISIONS)
# An image whose widest activation fits in this many bytes runs whole on every core of a CPU (TileBackend.
# whole_image_pixels): Real-ESRGAN x4plus and the Compact models up to 181x181 px, default-x4 up to 209.
# Measured here (2-core EPYC, x4plus, ncnn): a 160-px crop whole on two threads 2.95 s against 3.2 s in one
# tile per core; a 320-px image whole 20.8 s against 15.3 s in tiles, its activations out of cache.
WHOLE_IMAGE_BYTES = 8 * 2**20


def whole_image_pixels(widest_channels: int, workers: int) -> int:
    """TileBackend.whole_image_pixels for a CPU engine with `workers` tile threads."""
    return WHOLE_IMAGE_BYTES // (4 * widest_channels) if workers > 1 else 0


class OptionsError(ValueError):
    """An upscale option is out of range; the message names it."""


class ModelShape(Protocol):
    """What the upscaler needs to know about a model, whichever engine runs it (a `LoadedModel`, or the
    record an ncnn conversion keeps beside its files)."""

    scale: int
    in_channels: int
    value_range: tuple[float, float]
    name: str
    min_size: int
    size_multiple: int


class TileBackend(ABC):
    """A model loaded into one engine on one device. Its tiles run on `workers` threads of their own
    (`engine.upscaling.tile_threads`): one per core on a CPU, one for a GPU."""

    model: ModelShape
    tile: int  # the tile side it runs best with here (LR pixels)
    # An image of at most this many LR pixels runs whole, as one tile on every core (forward_all_cores):
    # cut into one tile per core it would recompute the overlaps, and its tiles would be too few to even
    # out. 0: never (one worker, or an engine without such a path).
    whole_image_pixels: int = 0

    def __init__(self, workers: int, initializer: Callable[[], None] | None = None) -> None:
        from engine.upscaling.tile_threads import TileThreads

        self.workers = workers
        self._threads = TileThreads(workers, initializer)

    @property
    @abstractmethod
    def description(self) -> str:
        """Which engine on which device, in words: 'ncnn on the CPU (2 tile threads, Winograd, fp32)'."""

    @abstractmethod
    def forward(self, tile: np.ndarray) -> np.ndarray:
        """(C, h, w) float32 in the model's value range -> (C, h*scale, w*scale) float32, a fresh array.
        Runs on a tile thread; must be safe to call from several at once."""

    def forward_all_cores(self, tile: np.ndarray) -> np.ndarray:
        """`forward` with every core on this one tile (see whole_image_pixels); runs on a tile thread."""
        return self.forward(tile)

    @abstractmethod
    def after_out_of_memory(self) -> None:
        """Give the device's cached memory back before a retry with smaller tiles."""

    def run_tiles(self, fn: Callable[[np.ndarray], np.ndarray], items: Iterable[np.ndarray],
                  cancel: threading.Event | None = None) -> Iterator[np.ndarray]:
        """fn over items, in order, `workers` at a time; once `cancel` is set, a tile still running is
        abandoned rather than waited for (so a cancel answers at once, whatever a tile costs)."""
        return self._threads.map(fn, items, cancel)

    def close(self) -> None:
        """Stop the tile threads (a tile abandoned by a cancel may still finish on its own)."""
        self._threads.close()
