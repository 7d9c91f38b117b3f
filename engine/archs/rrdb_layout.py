"""RRDBNet state dicts between BasicSR's key layout (Real-ESRGAN's x4plus: `conv_first`, `body.N.rdbM.convK`,
`conv_body`, `conv_up1/2`, `conv_hr`, `conv_last`) and spandrel's RRDBNet module (the old ESRGAN layout,
`model.N...`).

spandrel trains and runs the network; exports must keep BasicSR's keys so chaiNNer, ComfyUI and traiNNer
load them as they load x4plus. This map covers BasicSR's x4 body (two nearest+conv upsampling stages),
which x2 and x1 models share behind a pixel-unshuffle.
"""

from __future__ import annotations

import re

import torch

StateDict = dict[str, torch.Tensor]

# BasicSR name -> spandrel name of the fixed layers (x4 body: conv_up1 at model.3, conv_up2 at model.6).
_FIXED = {"conv_first": "model.0", "conv_up1": "model.3", "conv_up2": "model.6", "conv_hr": "model.8",
          "conv_last": "model.10"}
_BASICSR_BLOCK = re.compile(r"body\.(\d+)\.rdb(\d)\.conv(\d)\.(weight|bias)$")
_SPANDREL_BLOCK = re.compile(r"model\.1\.sub\.(\d+)\.RDB(\d)\.conv(\d)\.0\.(weight|bias)$")


def is_basicsr(state: StateDict) -> bool:
    return "conv_first.weight" in state and "body.0.rdb1.conv1.weight" in state


def block_count(state: StateDict) -> int:
    """The number of RRDB blocks of a BasicSR-layout state dict."""
    return 1 + max(int(m.group(1)) for key in state if (m := _BASICSR_BLOCK.match(key)))


def to_spandrel(state: StateDict) -> StateDict:
    """BasicSR keys -> spandrel's RRDBNet keys; a key of neither layout raises KeyError naming it."""
    blocks = block_count(state)
    fixed = {**_FIXED, "conv_body": f"model.1.sub.{blocks}"}
    out: StateDict = {}
    for key, value in state.items():
        if m := _BASICSR_BLOCK.match(key):
            out[f"model.1.sub.{m[1]}.RDB{m[2]}.conv{m[3]}.0.{m[4]}"] = value
            continue
        layer, _, kind = key.rpartition(".")
        if layer not in fixed:
            raise KeyError(f"{key} is not a key of BasicSR's RRDBNet")
        out[f"{fixed[layer]}.{kind}"] = value
    return out


def to_basicsr(state: StateDict) -> StateDict:
    """spandrel's RRDBNet keys (x4 body) -> BasicSR keys; the inverse of to_spandrel."""
    blocks = 1 + max(int(m.group(1)) for key in state if (m := _SPANDREL_BLOCK.match(key)))
    fixed = {spandrel: basicsr for basicsr, spandrel in {**_FIXED, "conv_body": f"model.1.sub.{blocks}"}.items()}
    out: StateDict = {}
    for key, value in state.items():
        if m := _SPANDREL_BLOCK.match(key):
            out[f"body.{m[1]}.rdb{m[2]}.conv{m[3]}.{m[4]}"] = value
            continue
        layer, _, kind = key.rpartition(".")
        if layer not in fixed:
            raise KeyError(f"{key} is not a key of spandrel's x4-body RRDBNet")
        out[f"{fixed[layer]}.{kind}"] = value
    return out
