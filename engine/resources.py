"""Where the bundled files (models, sample photos, VGG features, licences) live.

One resolver for the engine, the window, the scripts and the tests, so a clone, an editable install
and an installed wheel all find the same files.
"""

from __future__ import annotations

from pathlib import Path

RESOURCES_DIR = Path(__file__).resolve().parent.parent / "resources"


def resource_path(*parts: str) -> Path:
    """A path under the bundled resources folder (it may not exist, e.g. a file the user deleted)."""
    return RESOURCES_DIR.joinpath(*parts)
