"""The user-facing errors that cross module lines, in one place, so a module can catch or raise them
without importing the config, the checkpoint reader or the model registry for an exception.

Each is a ValueError: a front end shows its one-line message and (on the command line) exits non-zero.
"""

from __future__ import annotations


class ConfigError(ValueError):
    """A setting is out of range or unknown; the message names it."""


class CheckpointError(ConfigError):
    """The checkpoint is missing, unreadable, damaged or not ours; the message says which."""


class DataError(ValueError):
    """The data cannot train anything; the message names the folder or the files."""


class ModelLoadError(ValueError):
    """The file cannot be used as an upscaling model; the one-line message says why."""
