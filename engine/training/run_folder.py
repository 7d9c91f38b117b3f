"""A training run's folder: its layout, the one rule for resuming it, and what keeps it consistent.

The folder is the run. Nothing in it names the folder itself, so a run can be copied or moved and
resumed where it now is; copying a run and resuming the copy never touches the original. The
checkpoint is the source of truth: the exports beside it (best and latest generator) are derived
from it and re-derived when a crash or a full disk left them behind. One process at a time trains in
a folder (an OS lock on `.lock`, which is never a link: locking one would truncate the file it points
to), and temporary files of a killed writer are removed when the next run starts.
"""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Iterator
from pathlib import Path

from filelock import FileLock, Timeout

from engine.io.atomic import remove_temps
from engine.training.checkpoint import load_checkpoint
from engine.errors import ConfigError, ModelLoadError
from engine.training.config import TrainConfig

CHECKPOINT = "checkpoint.pt"
BEST = "best.safetensors"
GENERATOR = "generator.safetensors"
SAMPLES = "samples"
LOCK = ".lock"
# Config fields that hold paths: stored absolute, so a resumed run finds them from any working directory.
PATH_FIELDS = ("data_dir", "lr_dir", "val_dir", "vgg_weights")


class RunExistsError(ConfigError):
    """The output folder already holds a run; resuming it or another folder are the choices."""


class RunBusyError(ConfigError):
    """Another process is training in this folder right now."""


class RunFolder:
    """Where each file of one run lives."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)

    @property
    def checkpoint(self) -> Path:
        return self.root / CHECKPOINT

    @property
    def best(self) -> Path:
        return self.root / BEST

    @property
    def generator(self) -> Path:
        return self.root / GENERATOR

    @property
    def samples(self) -> Path:
        return self.root / SAMPLES

    def sample_figure(self, step: int) -> Path:
        return self.samples / f"step_{step:06d}.png"

    def has_checkpoint(self) -> bool:
        return self.checkpoint.is_file()

    def exported_model(self) -> Path:
        """The model file that stands for the run (`export RUN`): its best-validation export, else its latest."""
        for candidate in (self.best, self.generator):
            if candidate.is_file():
                return candidate
        raise ModelLoadError(f"{self.root} holds no exported generator (no {BEST} or {GENERATOR})")

    def remove_stale_temps(self) -> list[Path]:
        """Delete the temporary files a killed writer of ours left behind (call only while holding the lock):
        engine.io.atomic's own names only, and not through a samples folder that is a link to elsewhere."""
        return remove_temps(self.root) + ([] if self.samples.is_symlink() else remove_temps(self.samples))

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the folder's lock for the body; RunBusyError if another process holds it, ConfigError if
        `.lock` is a link or a folder. A folder made for the lock alone (the run never wrote anything) is
        removed again."""
        created = not self.root.exists()
        self.root.mkdir(parents=True, exist_ok=True)
        lock = self.root / LOCK
        try:
            with contextlib.suppress(FileNotFoundError):
                if not stat.S_ISREG(os.lstat(lock).st_mode):  # a link (to a file of the user's) or a folder
                    raise ConfigError(f"{lock} is not a plain file (a link or a folder): remove it, then train again")
            file_lock = FileLock(lock, thread_local=False)  # the Trainer may be built and closed on two threads
            try:
                file_lock.acquire(timeout=0)
            except Timeout:
                raise RunBusyError(f"another process is training in {self.root}; stop it first") from None
            try:
                yield
            finally:
                file_lock.release()
        finally:
            if created and [path.name for path in self.root.iterdir()] == [LOCK]:
                lock.unlink()
                self.root.rmdir()


def absolute_paths(config: TrainConfig) -> TrainConfig:
    """`config` with its path settings made absolute (empty ones stay empty)."""
    changes = {name: str(Path(getattr(config, name)).expanduser().resolve())
               for name in PATH_FIELDS if getattr(config, name)}
    init = config.init_generator
    if init and Path(init).expanduser().exists():  # a file; bundled model names stay names
        changes["init_generator"] = str(Path(init).expanduser().resolve())
    return config.replace(**changes)


def stored_form(config: TrainConfig) -> TrainConfig:
    """How a checkpoint stores its config: without the folder it lives in."""
    return config.replace(out_dir=".")


def resume_config(stored: TrainConfig, folder: str | os.PathLike[str], steps: int | None = None,
                  data_dir: str | None = None) -> TrainConfig:
    """The one resume rule, for the window and the command line: the stored settings win, except the
    folder (wherever the run is now), `steps` (to train a finished run longer; the pixel phase never
    outlasts the run) and `data_dir` (when the images moved)."""
    changes: dict[str, object] = {"out_dir": str(folder)}
    if steps is not None:
        changes.update(steps=steps, pretrain_steps=min(stored.pretrain_steps, steps))
    if data_dir:
        changes["data_dir"] = str(Path(data_dir).expanduser().resolve())
    return stored.replace(**changes)


def config_to_resume(folder: str | os.PathLike[str], steps: int | None = None,
                     data_dir: str | None = None) -> TrainConfig:
    """The settings to resume the run in `folder` with (see resume_config); CheckpointError if it holds
    no usable checkpoint."""
    stored = TrainConfig.from_dict(load_checkpoint(RunFolder(folder).checkpoint)["config"])
    return resume_config(stored, folder, steps, data_dir)
