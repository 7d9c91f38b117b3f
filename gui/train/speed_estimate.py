"""Before Start: what the chosen settings cost on this machine, measured rather than guessed.

A few real steps (engine.training.speed_probe) run a moment after the settings stop changing, in a child
process: a Start or a change ends it at once (a thread could only stop between two steps, seconds on a
loaded CPU, and would share torch's global random state and the GIL with the run and the window).
Figures are kept for the session per (settings that shape a step, device), so going back to a preset
shows its figure at once.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Callable
from concurrent.futures import Future
from concurrent.futures import wait as wait_for
from pathlib import Path

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtWidgets import QWidget

import engine
from engine.archs.table import ARCHITECTURES
from engine.training.config import TrainConfig
from engine.device import describe_device, resolve_device
from engine.torch_threads import THREADS_BESIDE_A_WINDOW
from engine.training.speed_probe import StepTimes, phases_of
from gui.common.background import Background
from gui.train.run_folders import format_duration

PROBE_STEPS = 2  # timed steps per phase, after one untimed step
CODE_ROOT = str(Path(engine.__file__).resolve().parents[1])  # where the child imports the engine from
DEBOUNCE_MS = 800
# Settings that do not change what one step costs (the phases a run has are part of the key instead).
NOT_SHAPING = ("preset", "data_dir", "lr_dir", "val_dir", "out_dir", "steps", "pretrain_steps", "seed", "val_count",
               "val_every", "val_seconds", "checkpoint_every", "log_every", "sample_every", "lr_g", "lr_d", "lr_schedule", "beta1",
               "beta2", "workers", "device", "init_generator", "vgg_weights")
SLOW_ON_CPU = ("classic", "classic-init")
CLASSIC_CPU_NOTE = ("The article's recipe: its generator works at full resolution, which is slow on a CPU, and "
                    "its samples stay flat for the first few thousand steps.")

Probe = Callable[[TrainConfig, threading.Event], "StepTimes | None"]
PROBE_CODE = ("import json, sys\n"
              "from engine.torch_threads import set_own_threads\n"
              "set_own_threads(int(sys.argv[3]))  # as the window's run will have\n"
              "from engine.training.config import TrainConfig\n"
              "from engine.training.speed_probe import measure_step_times\n"
              "times = measure_step_times(TrainConfig.from_dict(json.loads(sys.argv[1])), int(sys.argv[2]))\n"
              "print(json.dumps(times.seconds))\n")
POLL_S = 0.05


def cpu_note(config: TrainConfig, device_type: str) -> str:
    """Why this run will be slow here, when its generator is one the table marks slow on a CPU."""
    if device_type != "cpu" or ARCHITECTURES[config.generator].fast_on_cpu:
        return ""
    if config.preset in SLOW_ON_CPU:
        return CLASSIC_CPU_NOTE
    return (f"The {config.generator} generator is slow on a CPU: the estimate below is what a step costs here; "
            "a GPU trains it many times faster.")


def measure(config: TrainConfig, cancel: threading.Event) -> StepTimes | None:
    """engine.training.speed_probe.measure_step_times in a child process; None as soon as `cancel` is set."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, (CODE_ROOT, os.environ.get("PYTHONPATH"))))}
    child = subprocess.Popen([sys.executable, "-c", PROBE_CODE, json.dumps(config.to_dict()), str(PROBE_STEPS),
                              str(THREADS_BESIDE_A_WINDOW)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    while True:
        try:
            out, err = child.communicate(timeout=POLL_S)
            break
        except subprocess.TimeoutExpired:
            if cancel.is_set():
                child.kill()
                child.communicate()
                return None
    if child.returncode != 0:
        raise RuntimeError((err.strip().splitlines() or [f"exit status {child.returncode}"])[-1])
    return StepTimes(json.loads(out.strip().splitlines()[-1]))


def shape_key(config: TrainConfig, device_type: str) -> tuple[str, tuple[str, ...], str]:
    shaping = {name: value for name, value in config.to_dict().items() if name not in NOT_SHAPING}
    return device_type, tuple(phases_of(config)), json.dumps(shaping, sort_keys=True)


def describe(times: StepTimes, config: TrainConfig, device: str) -> str:
    return (f"≈ {format_duration(times.per_thousand(config))} per 1000 steps, "
            f"{format_duration(times.run_seconds(config))} for this run's {config.steps} (measured on {device})")


class SpeedEstimate(QObject):
    changed = Signal(str, str)  # the estimate, a note on the recipe (either may be empty)

    def __init__(self, probe: Probe | None = measure, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._probe = probe
        self._cache: dict[tuple[str, tuple[str, ...], str], StepTimes] = {}
        self._config: TrainConfig | None = None
        self._key: tuple[str, tuple[str, ...], str] | None = None
        self._device, self._note = "", ""
        self._cancel = threading.Event()
        self._running: Future | None = None
        self._timer = QTimer(self, singleShot=True, interval=DEBOUNCE_MS)
        self._timer.timeout.connect(self._measure)
        self._background = Background("speed-probe", self)
        self._background.done.connect(self._on_measured)
        self._background.failed.connect(self._on_failed)

    def request(self, config: TrainConfig | None) -> None:
        """The settings now in the form (None: they do not parse): a kept figure at once, else a measurement
        after a pause."""
        self.cancel()
        self._config = config
        if config is None:
            self._key = None
            self.changed.emit("", "")
            return
        try:
            device = resolve_device(config.device)
        except ValueError as exc:  # a device this machine does not have: Start will say so too
            self._key = None
            self.changed.emit(str(exc), "")
            return
        self._device = describe_device(device)
        self._note = cpu_note(config, device.type)
        self._key = shape_key(config, device.type)
        if self._key in self._cache:
            self.changed.emit(describe(self._cache[self._key], config, self._device), self._note)
        elif self._probe is None:
            self.changed.emit("", self._note)
        else:
            self.changed.emit(f"Measuring these settings' speed on this {self._device}…", self._note)
            self._timer.start()

    def _measure(self) -> None:
        shown = not isinstance(self.parent(), QWidget) or self.parent().isVisible()
        if self._config is None or self._probe is None or not shown:  # a hidden tab measures when shown
            return
        self._cancel = cancel = threading.Event()
        config, probe = self._config, self._probe
        self._running = self._background.submit(self._key, lambda: probe(config, cancel))

    def _on_measured(self, key: object, times: object) -> None:
        if not isinstance(times, StepTimes):  # cancelled
            return
        self._cache[key] = times  # type: ignore[index]
        if key == self._key and self._config is not None:
            self.changed.emit(describe(times, self._config, self._device), self._note)

    def _on_failed(self, key: object, message: str) -> None:
        if key == self._key:
            self.changed.emit(f"Could not measure these settings: {message}", self._note)

    def cancel(self) -> None:
        """Stop waiting and stop a measurement in progress (between two of its steps)."""
        self._timer.stop()
        self._cancel.set()

    def wait_idle(self, timeout: float | None = None) -> None:
        """Return once no measurement runs (a cancelled one ends within POLL_S): a run's trainer starts
        after it, so the two never share the CPU. Safe to call from another thread."""
        running = self._running
        if running is not None:
            wait_for([running], timeout)

    def shutdown(self) -> None:
        self.cancel()
        self._background.shutdown()
