"""The user's cache folder for SRGAN Studio: what can be rebuilt (converted models), never what cannot.

It is the folder Qt's CacheLocation gives the window (organisation and application both "SRGAN Studio"),
worked out here without Qt so that the command line shares it: ~/.cache/SRGAN Studio/SRGAN Studio on
Linux ($XDG_CACHE_HOME if set), ~/Library/Caches/SRGAN Studio/SRGAN Studio on macOS, and
%LOCALAPPDATA%\\SRGAN Studio\\SRGAN Studio\\cache on Windows. $SRGAN_STUDIO_CACHE overrides it.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

APP = "SRGAN Studio"
OVERRIDE = "SRGAN_STUDIO_CACHE"


def user_cache_dir() -> Path:
    """The folder (not created here)."""
    if os.environ.get(OVERRIDE):
        return Path(os.environ[OVERRIDE])
    if sys.platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local")
        return base / APP / APP / "cache"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches" / APP / APP
    configured = os.environ.get("XDG_CACHE_HOME", "")
    base = Path(configured) if configured and Path(configured).is_absolute() else Path.home() / ".cache"
    return base / APP / APP
