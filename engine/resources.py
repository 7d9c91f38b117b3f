"""Where the bundled files (models, sample photos, VGG features, icons, licences) live.

One resolver for the engine, the window, the scripts and the tests, so a clone, an editable install
and an installed wheel all find the same files. The repository keeps them in a top-level `resources/`
folder; the wheel installs that folder as the package `srgan_studio_resources` (pyproject.toml maps
it), a name no other distribution can shadow, as a site-packages `resources/` could be.

The folder is looked up beside the `engine` package that is running, never through the import system:
the files then always belong to the code that reads them, also when a checkout's code runs in an
environment where another copy of the project is installed (an editable install of another worktree
would otherwise hand this checkout that worktree's models).
"""

from __future__ import annotations

from pathlib import Path

PACKAGE_NAME = "srgan_studio_resources"
SOURCE_FOLDER = "resources"
_ROOT = Path(__file__).resolve().parent.parent  # site-packages (or a --target folder), or the checkout


def find_resources_dir(root: Path = _ROOT) -> Path:
    """The installed package beside `engine` when there is one, else the checkout's resources/."""
    installed = root / PACKAGE_NAME
    return installed if installed.is_dir() else root / SOURCE_FOLDER


RESOURCES_DIR = find_resources_dir()


def resource_path(*parts: str) -> Path:
    """A path under the bundled resources folder (it may not exist, e.g. a file the user deleted)."""
    return RESOURCES_DIR.joinpath(*parts)
