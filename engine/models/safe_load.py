"""Reading PyTorch files that may come from anywhere: never running code, never a traceback.

`torch.load(weights_only=True)` refuses pickles that reference code, but its error text advises
retrying with `weights_only=False`, which is exactly the wrong advice for a hostile file. Every
untrusted load (checkpoints, models, VGG weights, init weights) goes through here instead and fails
with one line naming the file and the reason.
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path
from typing import Any

import torch


def load_torch_file(path: Path, what: str, error: type[ValueError]) -> Any:
    """The content of a PyTorch file read without unpickling code; `error` (naming the file and saying
    why) when it cannot be read, is empty, damaged, or would run code."""
    try:
        if path.stat().st_size == 0:
            raise error(f"{path.name} is empty (0 bytes), not a {what}")
        with warnings.catch_warnings():  # torch warns about odd pickle protocols before failing on them
            warnings.simplefilter("ignore")
            return torch.load(path, map_location="cpu", weights_only=True)
    except error:
        raise
    except PermissionError:
        raise error(f"cannot read {path}: permission denied") from None
    except Exception as exc:  # torch raises many unrelated types for files that are not its own
        referenced = re.search(r"GLOBAL (\S+)", str(exc))
        if referenced:
            raise error(f"refused: {path.name} is a pickle that would run code when loaded "
                        f"(it references {referenced.group(1)})") from None
        raise error(f"{path.name} is not a readable {what} (damaged, truncated or another format)") from None
