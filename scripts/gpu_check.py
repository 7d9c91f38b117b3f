"""One prepared check of the app's CUDA paths on a GPU, written up as a plain-text report.

    python scripts/gpu_check.py OUT                      # on a machine with a CUDA GPU (about 7 minutes)
    scripts/gpu_check.sh OUT                             # the same, after installing the wheels in .whl/
    python scripts/gpu_check.py OUT --allow-cpu --budget 60   # a dry run of every section on the CPU

Sections, each with its own time cap inside one overall budget (what a cap cut short, the report says):
the machine (GPU, torch, CUDA, cuDNN, NCCL, the Python packages the engine imports); the tests marked
`cuda` (tests/test_cuda.py); steps per second and peak GPU memory of every preset in PRESETS (read at run
time, so new presets are measured too) at its CUDA defaults, each phase it trains; a one-process torchrun
run over NCCL stopped with SIGINT and resumed; upscale throughput (output megapixels per second) of every
bundled model in fp32, fp16 and bf16, with the PSNR of the half-precision results against fp32.

OUT receives report.txt (rewritten after each section, so a run cut short still leaves what it measured)
and the logs of the test and torchrun sections. The engine is driven without the GUI packages: nothing
here imports PySide6 or pyqtgraph. Without CUDA (and without --allow-cpu) it says so in one line and
exits 0 having run nothing.
"""

from __future__ import annotations

import argparse
import codecs
import gc
import json
import os
import platform
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import IO

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a file: the engine is this checkout's
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import torch  # noqa: E402

DATA = ROOT / "resources" / "samples"
# Seconds: the whole check and what each section is owed of it, in the order they run (Budget).
BUDGET = 450.0
CAPS = {"machine": 10.0, "tests": 60.0, "presets": 235.0, "torchrun": 70.0, "upscale": 75.0}
PRESET_SECONDS = 60.0  # training time per preset (all its phases), when the presets' cap allows it
MIN_PHASE_SECONDS = 5.0  # less than this, and a preset is skipped rather than timed
CHILD_OVERHEAD = 15.0  # first guess at a measuring process's start-up (imports, CUDA, VGG) and final export
WARMUP_STEPS = 5  # not timed: cuDNN's algorithm search, the first validation, the DataLoader's start
# Variants measured beside the presets: the autocast precisions a GPU user would try first.
VARIANTS = (("default", {"precision": "bf16"}),)
TORCHRUN_STEPS, TORCHRUN_STOP_AT = 20, 6
UPSCALE_LR_SIDE = 512  # LR side of the upscale picture: 2048 x 2048 out at x4
UPSCALE_PRECISIONS = ("fp32", "fp16", "bf16")
# Imported by the engine's training and upscaling paths (pyproject's runtime dependencies, less the GUI's).
ENGINE_MODULES = {"torch": "torch", "torchvision": "torchvision", "numpy": "numpy", "PIL": "pillow",
                  "safetensors": "safetensors", "spandrel": "spandrel", "tqdm": "tqdm", "pytest": "pytest",
                  "pytest_timeout": "pytest-timeout"}


# ----------------------------------------------------------------------------- the report
@dataclass
class Section:
    """One part of the report: what it measured, what it skipped and why, and the time it took."""

    title: str
    cap: float
    lines: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    seconds: float | None = None

    def add(self, line: str) -> None:
        self.lines.append(line)

    def skip(self, what: str, why: str) -> None:
        self.skipped.append(f"{what}: {why}")


class Report:
    """report.txt in `folder`, rewritten (atomically) whenever a section ends."""

    def __init__(self, folder: Path, header: list[str]) -> None:
        self.folder = folder
        self.header = header
        self.sections: list[Section] = []
        folder.mkdir(parents=True, exist_ok=True)

    @property
    def path(self) -> Path:
        return self.folder / "report.txt"

    def section(self, title: str, cap: float) -> Section:
        section = Section(title, cap)
        self.sections.append(section)
        return section

    def render(self) -> str:
        out = [*self.header, ""]
        for section in self.sections:
            took = "running" if section.seconds is None else f"{section.seconds:.0f} s"
            cap = f", cap {section.cap:.0f} s" if section.cap else ""
            out.append(f"== {section.title} ({took}{cap})")
            out.extend(f"  {line}" for line in section.lines)
            out.extend(f"  skipped {line}" for line in section.skipped)
            out.append("")
        return "\n".join(out)

    def write(self) -> Path:
        tmp = self.path.with_name(self.path.name + ".tmp")
        tmp.write_text(self.render(), encoding="utf-8")
        os.replace(tmp, self.path)
        return self.path


class Budget:
    """The overall deadline, shared by the sections in CAPS order: each may use what is left less what the
    sections after it are owed, so time an early section does not need goes to the next."""

    def __init__(self, seconds: float, scale: float = 1.0) -> None:
        self.deadline = time.monotonic() + seconds
        self.scale = scale  # a budget below BUDGET shrinks every section's share alike

    def left(self) -> float:
        return max(0.0, self.deadline - time.monotonic())

    def cap(self, name: str) -> float:
        later = list(CAPS)[list(CAPS).index(name) + 1:]
        return max(0.0, self.left() - self.scale * sum(CAPS[section] for section in later))


def run_section(report: Report, title: str, cap: float, body: Callable[[Section, float], None]) -> None:
    """Run one section within `cap` seconds; a failure is reported in it, and the next section still runs."""
    section = report.section(title, cap)
    started = time.monotonic()
    if cap < 1:
        section.skip("the whole section", "the overall time budget was spent")
    else:
        try:
            body(section, time.monotonic() + cap)
        except Exception as exc:  # noqa: BLE001 - the report must say what broke and carry on
            section.add(f"FAILED: {type(exc).__name__}: {exc}")
    section.seconds = time.monotonic() - started
    report.write()


# ----------------------------------------------------------------------------- the machine
def package_versions() -> list[str]:
    """The engine's runtime packages as this Python sees them; a missing one is named."""
    found = []
    for module, dist in ENGINE_MODULES.items():
        try:
            __import__(module)
            found.append(f"{dist} {metadata.version(dist)}")
        except ImportError:
            found.append(f"{dist} MISSING")
        except metadata.PackageNotFoundError:
            found.append(f"{dist} (version unknown)")
    return found


def machine_lines(device: torch.device) -> list[str]:
    lines = [f"device: {torch.cuda.get_device_name(device) if device.type == 'cuda' else 'CPU (dry run)'}",
             f"python {platform.python_version()}, torch {torch.__version__}, CUDA {torch.version.cuda}, "
             f"cuDNN {torch.backends.cudnn.version()}"]
    if device.type == "cuda":
        props = torch.cuda.get_device_properties(device)
        nccl = torch.cuda.nccl.version() if torch.distributed.is_nccl_available() else "none"
        nccl = ".".join(map(str, nccl)) if isinstance(nccl, tuple) else str(nccl)
        lines.append(f"{props.total_memory / 2**30:.1f} GiB, {props.multi_processor_count} SMs, compute capability "
                     f"{props.major}.{props.minor}, bf16 {torch.cuda.is_bf16_supported()}, NCCL {nccl}")
    lines.append("packages: " + ", ".join(package_versions()))
    qt = [name for name in ("PySide6", "pyqtgraph") if _importable(name)]
    lines.append(f"GUI packages present: {', '.join(qt) or 'none'} (the check never imports them)")
    return lines


def _importable(name: str) -> bool:
    from importlib.util import find_spec

    try:
        return find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def child_env(device: torch.device) -> dict[str, str]:
    """The environment of the processes this starts: this checkout's engine first on the path."""
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), *filter(None, [env.get("PYTHONPATH")])])
    if device.type == "cpu":
        env["CUDA_VISIBLE_DEVICES"] = ""
    return env


# ----------------------------------------------------------------------------- the cuda tests
def cuda_tests(section: Section, until: float, out: Path, device: torch.device) -> None:
    """tests/test_cuda.py in a pytest of its own; its summary line here, its whole output in tests.log."""
    command = [sys.executable, "-m", "pytest", "-m", "cuda", "-rs", "-q", "-p", "no:cacheprovider", "tests/test_cuda.py"]
    try:
        result = subprocess.run(command, cwd=ROOT, env=child_env(device), capture_output=True, text=True,
                                timeout=max(1.0, until - time.monotonic()))
    except subprocess.TimeoutExpired as exc:
        (out / "tests.log").write_text(_text(exc.stdout) + _text(exc.stderr), encoding="utf-8")
        section.add("TIMED OUT: the cuda tests did not finish within the cap (partial output in tests.log)")
        return
    (out / "tests.log").write_text(result.stdout + result.stderr, encoding="utf-8")
    lines = [line for line in result.stdout.splitlines() if line.strip()]
    outcome = [line for line in lines if re.search(r"\b(passed|failed|skipped|error)", line)]
    section.add(f"pytest exit {result.returncode}: {outcome[-1] if outcome else 'no summary (see tests.log)'}")
    section.lines.extend(line for line in lines if line.startswith(("FAILED", "ERROR", "SKIPPED")))


def _text(data: str | bytes | None) -> str:
    return data.decode(errors="replace") if isinstance(data, bytes) else (data or "")


# ----------------------------------------------------------------------------- presets
@dataclass(frozen=True)
class PresetRun:
    """A preset (with changes) and the phases it trains: one measuring process, each phase timed in turn."""

    preset: str
    phases: tuple[str, ...]
    changes: dict[str, object] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return " ".join([self.preset, *(f"{key}={value}" for key, value in self.changes.items())])

    def label(self, phase: str) -> str:
        return f"{self.name} [{phase}]"


def preset_runs() -> list[PresetRun]:
    """Every preset in PRESETS (as it is now), then the variants."""
    from engine.training.config import PRESETS, preset
    from engine.training.speed_probe import phases_of

    return [PresetRun(name, tuple(phases_of(preset(name, **changes))), dict(changes))
            for name, changes in [*((name, {}) for name in PRESETS), *VARIANTS]]


def measure_phase(run: PresetRun, phase: str, seconds: float, device: str, out: Path) -> dict[str, object]:
    """Train one phase of `run` for about `seconds` and measure it. A preset that cannot start (a missing
    init model, say) returns why."""
    from engine import events as ev
    from engine.training.config import preset
    from engine.training.trainer import Trainer

    steps = 10**6
    try:
        config = preset(run.preset, **run.changes)
        config = config.replace(data_dir=str(DATA), out_dir=str(out), device=device, steps=steps,
                                pretrain_steps=steps if phase == "pretrain" else 0, val_every=steps,
                                checkpoint_every=steps, sample_every=0, log_tensorboard=False)
        trainer = Trainer(config)
    except ValueError as exc:  # ConfigError, DataError, ModelLoadError: all say what is missing
        return {"skipped": str(exc)}
    if trainer.device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(trainer.device)
    started = time.monotonic()
    timed: list[tuple[int, float]] = []
    warnings, finished = [], "?"
    for event in trainer.run():
        if isinstance(event, ev.StepMetrics):
            if event.step >= WARMUP_STEPS:
                timed.append((event.step, time.perf_counter()))
            if time.monotonic() - started >= seconds:
                trainer.request_stop()
        elif isinstance(event, ev.TrainWarning):
            warnings.append(f"{event.code}: {event.message}")
        elif isinstance(event, ev.Finished):
            finished = f"{event.reason} {event.message}"
    config = trainer.config
    result: dict[str, object] = {"batch": config.batch_size, "patch": config.hr_patch, "precision": config.precision,
                                 "channels_last": config.channels_last, "steps": trainer.step, "finished": finished,
                                 "seconds": time.monotonic() - started, "warnings": warnings}
    if len(timed) >= 2:
        (first, t0), (last, t1) = timed[0], timed[-1]
        result["steps_per_s"] = (last - first) / (t1 - t0)
    if trainer.device.type == "cuda":
        result["peak_allocated_gib"] = torch.cuda.max_memory_allocated(trainer.device) / 2**30
        result["peak_reserved_gib"] = torch.cuda.max_memory_reserved(trainer.device) / 2**30
        del trainer
        gc.collect()
        torch.cuda.empty_cache()  # the next phase's peak is its own
    return result


def format_measurement(label: str, result: dict[str, object]) -> list[str]:
    speed = result.get("steps_per_s")
    rate = f"{speed:.2f} steps/s" if isinstance(speed, float) else f"too few steps to time ({result['steps']})"
    memory = (f", peak {result['peak_allocated_gib']:.2f} GiB allocated / {result['peak_reserved_gib']:.2f} GiB "
              f"reserved" if "peak_allocated_gib" in result else "")
    lines = [f"{label}: {rate}{memory}; batch {result['batch']} x {result['patch']} px, {result['precision']}, "
             f"channels_last {result['channels_last']}; {result['steps']} steps in {result['seconds']:.0f} s "
             f"({result['finished']})"]
    lines.extend(f"    warning {text}" for text in result["warnings"])  # type: ignore[union-attr]
    return lines


def phase_seconds(runs: list[PresetRun], left: float, overhead: float) -> float:
    """Training seconds per phase for runs[0]: the time left shared over as many of `runs` as get at least
    MIN_PHASE_SECONDS a phase (the later ones are skipped), at most PRESET_SECONDS a preset."""
    phases, fitted, needed = 0, 0, 0.0
    for run in runs:
        needed += overhead + MIN_PHASE_SECONDS * len(run.phases)
        if needed > left:
            break
        phases, fitted = phases + len(run.phases), fitted + 1
    if not fitted:
        return 0.0
    return min(PRESET_SECONDS / len(runs[0].phases), (left - overhead * fitted) / phases)


def presets_section(section: Section, until: float, device: torch.device, work: Path) -> None:
    """Each preset in a process of its own (so each peak is its own), sharing the section's time."""
    runs = preset_runs()
    section.add(f"{len(runs)} presets and variants: {', '.join(run.name for run in runs)}; data: "
                f"{len(list(DATA.iterdir()))} sample photos; validation and checkpoints off while timed (one "
                f"validation at step 1); the first {WARMUP_STEPS} steps untimed")
    overhead = CHILD_OVERHEAD
    for index, run in enumerate(runs):
        seconds = phase_seconds(runs[index:], until - time.monotonic(), overhead)
        if not seconds:
            for phase in run.phases:
                section.skip(run.label(phase), f"the presets' {section.cap:.0f} s cap was spent")
            continue
        result_file = work / f"preset-{index}.json"
        spec = json.dumps({"preset": run.preset, "phases": run.phases, "changes": run.changes, "seconds": seconds,
                           "device": device.type, "out": str(work / f"run-{index}"), "result": str(result_file)})
        started = time.monotonic()
        limit = min(seconds * len(run.phases) + 3 * overhead + 30, until - started)  # never past the cap
        try:
            done = subprocess.run([sys.executable, str(Path(__file__).resolve()), str(work), "--child", spec],
                                  cwd=ROOT, env=child_env(device), capture_output=True, text=True, timeout=limit)
        except subprocess.TimeoutExpired:
            section.skip(run.name, f"did not end within {limit:.0f} s (killed; the cap was {section.cap:.0f} s)")
            continue
        overhead = max(1.0, time.monotonic() - started - seconds * len(run.phases))  # measured, for the next
        if done.returncode != 0 or not result_file.is_file():
            section.add(f"{run.name}: FAILED (exit {done.returncode}): {done.stderr.strip()[-600:]}")
            continue
        for phase, result in zip(run.phases, json.loads(result_file.read_text())):
            if "skipped" in result:
                section.skip(run.label(phase), str(result["skipped"]))
            else:
                section.lines.extend(format_measurement(run.label(phase), result))
    section.add(f"start-up and final export of a measuring process: about {overhead:.0f} s (the last one)")


def child_main(spec_text: str) -> int:
    """The measuring process of one preset (presets_section starts it)."""
    spec = json.loads(spec_text)
    run = PresetRun(spec["preset"], tuple(spec["phases"]), spec["changes"])
    results = []
    for phase in run.phases:
        results.append(measure_phase(run, phase, spec["seconds"], spec["device"], Path(spec["out"]) / phase))
        if "skipped" in results[-1]:  # the other phase would say the same
            results.extend(results[-1] for _ in run.phases[len(results):])
            break
    Path(spec["result"]).write_text(json.dumps(results))
    return 0


# ----------------------------------------------------------------------------- torchrun
class OutputWatch:
    """Everything a process writes (tqdm's carriage-return updates too), read on a thread as it comes."""

    def __init__(self, stream: IO[bytes]) -> None:
        self.buffer = ""
        self.changed = threading.Condition()
        self._thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self._thread.start()

    def _read(self, stream: IO[bytes]) -> None:
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        for chunk in iter(lambda: os.read(stream.fileno(), 4096), b""):  # what is there, not a full buffer
            with self.changed:
                self.buffer += decoder.decode(chunk)
                self.changed.notify_all()

    def wait_for_step(self, minimum: int, total: int, until: float) -> int | None:
        """The first step >= `minimum` that a progress bar `step/total` shows, waiting until `until`
        (monotonic) at most; None if the process ended or the time ran out first."""
        pattern = re.compile(rf"\b(\d+)/{total}\b")
        with self.changed:
            while True:
                steps = [int(found) for found in pattern.findall(self.buffer)]
                reached = [step for step in steps if step >= minimum]
                if reached:
                    return reached[0]
                if time.monotonic() >= until or not self._thread.is_alive():
                    return None
                self.changed.wait(0.1)

    def text(self) -> str:
        self._thread.join(timeout=5)
        return self.buffer.replace("\r", "\n")


def torchrun_command(run_dir: Path, device: torch.device, resume: bool) -> list[str]:
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=1",
               "-m", "engine", "train", "--out", str(run_dir), "--steps", str(TORCHRUN_STEPS)]
    if resume:
        return [*command, "--resume"]
    return [*command, "--data", str(DATA), "--set", f"device={device.type}", "val_every=10", "checkpoint_every=5"]


def _start(command: list[str], device: torch.device) -> tuple[subprocess.Popen, OutputWatch]:
    env = child_env(device)
    env["NCCL_DEBUG"] = "INFO"  # its lines show that NCCL carried the run
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               start_new_session=True)
    return process, OutputWatch(process.stdout)


def _end(process: subprocess.Popen, until: float) -> int | None:
    try:
        return process.wait(timeout=max(1.0, until - time.monotonic()))
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        return None


def torchrun_section(section: Section, until: float, device: torch.device, work: Path, out: Path) -> None:
    """`torchrun --nproc_per_node=1 -m engine train` for TORCHRUN_STEPS steps, SIGINT (to torchrun, as a
    scheduler stops a job) once TORCHRUN_STOP_AT steps are done, then `--resume` to the end."""
    run_dir = work / "torchrun"
    process, watch = _start(torchrun_command(run_dir, device, resume=False), device)
    reached = watch.wait_for_step(TORCHRUN_STOP_AT, TORCHRUN_STEPS, until)
    if reached is not None:
        os.kill(process.pid, signal.SIGINT)
    code = _end(process, until)
    first = watch.text()
    stopped = re.findall(r"^(stopped|completed|failed): (.*)$", first, re.MULTILINE)
    section.add(f"run: SIGINT {f'sent at step {reached}' if reached is not None else 'NOT sent (no progress seen)'}; "
                f"exit {code if code is not None else 'none (killed at the cap)'}; "
                f"trainer said: {stopped[-1][0] + ': ' + stopped[-1][1] if stopped else 'nothing'}")
    second = ""
    if code is not None and time.monotonic() < until:
        process, watch = _start(torchrun_command(run_dir, device, resume=True), device)
        code = _end(process, until)
        second = watch.text()
        resumed = re.search(r"resumed at step (\d+)", second)
        ended = re.findall(r"^(stopped|completed|failed): (.*)$", second, re.MULTILINE)
        section.add(f"resume: {'from step ' + resumed.group(1) if resumed else 'NO resume line'}; exit "
                    f"{code if code is not None else 'none (killed at the cap)'}; trainer said: "
                    f"{ended[-1][0] + ': ' + ended[-1][1] if ended else 'nothing'}")
    else:
        section.skip("the resume", "the first run did not end within the cap")
    both = first + second
    nccl = re.search(r"NCCL version [^\s]+", both)
    backend = (f"NCCL ({nccl.group(0)}, {both.count('NCCL INFO')} NCCL INFO lines)" if nccl
               else "no NCCL lines (Gloo on a CPU)" if device.type == "cpu" else "NO NCCL lines seen")
    section.add(f"backend: {backend}; full output in torchrun.log")
    (out / "torchrun.log").write_text(f"--- first run\n{first}\n--- resume\n{second}", encoding="utf-8")


# ----------------------------------------------------------------------------- upscaling
def test_picture(side: int) -> np.ndarray:
    """A side x side RGB uint8 picture tiled from the sample photos (real detail, no synthetic pattern)."""
    from engine.io.images import read_pixels

    photos = sorted(DATA.glob("*.jpg"))
    tile = read_pixels(photos[0], 3)
    rows = [np.concatenate([read_pixels(photos[(r * 8 + c) % len(photos)], 3)
                            for c in range(-(-side // tile.shape[1]))], axis=1) for r in range(-(-side // tile.shape[0]))]
    return np.ascontiguousarray(np.concatenate(rows, axis=0)[:side, :side])


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """RGB PSNR of two uint8 pictures (inf when they are identical)."""
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)


def timed_upscales(upscale: Callable[[np.ndarray], np.ndarray], picture: np.ndarray,
                   seconds: float) -> Iterator[tuple[np.ndarray, float]]:
    """(result, seconds) of upscales after one untimed warm-up, for about `seconds` (at least one)."""
    upscale(picture)
    started = time.monotonic()
    while True:
        begun = time.perf_counter()
        result = upscale(picture)
        yield result, time.perf_counter() - begun
        if time.monotonic() - started >= seconds:
            return


def upscale_section(section: Section, until: float, device: torch.device, side: int) -> None:
    """Each bundled model in each precision on one picture; throughput of the whole Upscaler.upscale (tiles,
    transfers, uint8 output), the fastest run of several."""
    from engine.models.registry import bundled_models, load_model
    from engine.upscaling.upscaler import OptionsError, Upscaler

    picture = test_picture(side)
    models = bundled_models()
    section.add(f"picture: {side} x {side} px RGB (tiled sample photos); {len(models)} bundled models: "
                f"{', '.join(models)}")
    precisions = UPSCALE_PRECISIONS if device.type == "cuda" else ("fp32",)
    if device.type != "cuda":
        section.skip("fp16 and bf16", "half precision is for GPUs (dry run on the CPU)")
    jobs = [(name, precision) for name in models for precision in precisions]
    references: dict[str, np.ndarray] = {}
    for index, (name, precision) in enumerate(jobs):
        seconds = (until - time.monotonic()) / (len(jobs) - index) / 2  # half timed, half loading and warm-up
        if seconds < 0.05:
            section.skip(f"{name} {precision}", "the upscale cap was spent")
            continue
        try:
            upscaler = Upscaler(load_model(name), device=device, precision=precision)
        except OptionsError as exc:
            section.skip(f"{name} {precision}", str(exc))
            continue
        try:
            runs = list(timed_upscales(upscaler.upscale, picture, seconds))
        finally:
            upscaler.close()
        result, best = runs[0][0], min(elapsed for _, elapsed in runs)
        megapixels = result.shape[0] * result.shape[1] / 1e6
        line = (f"{name} {precision} (x{upscaler.model.scale}, tile {upscaler.tile}): "
                f"{megapixels / best:.2f} MP/s out ({megapixels:.1f} MP in {best:.3f} s, best of {len(runs)})")
        if precision == "fp32":
            references[name] = result
        elif name in references:
            line += f", PSNR vs fp32 {psnr(result, references[name]):.1f} dB"
        section.add(line)
        del upscaler
        if device.type == "cuda":
            torch.cuda.empty_cache()


# ----------------------------------------------------------------------------- main
def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path, help="folder for report.txt and the logs (created)")
    parser.add_argument("--allow-cpu", action="store_true", help="without CUDA, run every section on the CPU "
                        "(a dry run of the script itself: the figures mean nothing)")
    parser.add_argument("--budget", type=float, default=BUDGET, help=f"overall seconds (default {BUDGET:.0f}); "
                        "a smaller budget shrinks every section's cap alike")
    parser.add_argument("--child", help=argparse.SUPPRESS)  # one preset measurement (presets_section)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.child:
        return child_main(args.child)
    if not torch.cuda.is_available() and not args.allow_cpu:
        print(f"gpu_check: no CUDA GPU here (torch {torch.__version__}, CUDA build {torch.version.cuda}); "
              "nothing was run")
        return 0
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    budget = Budget(args.budget, min(1.0, args.budget / BUDGET))
    started = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())
    report = Report(args.out, [f"SRGAN Studio GPU check, {started}, budget {args.budget:.0f} s",
                               f"commit: {_commit()}"])
    run_section(report, "machine", budget.cap("machine"),
                lambda section, until: section.lines.extend(machine_lines(device)))
    print(f"gpu_check: writing {report.path}", flush=True)
    with tempfile.TemporaryDirectory(prefix="gpu-check-") as scratch:
        work = Path(scratch)
        run_section(report, "cuda tests (pytest -m cuda tests/test_cuda.py)", budget.cap("tests"),
                    lambda section, until: cuda_tests(section, until, args.out, device))
        run_section(report, "training: every preset at its CUDA defaults", budget.cap("presets"),
                    lambda section, until: presets_section(section, until, device, work))
        run_section(report, f"torchrun --nproc_per_node=1, {TORCHRUN_STEPS} steps, SIGINT, --resume",
                    budget.cap("torchrun"), lambda section, until: torchrun_section(section, until, device, work,
                                                                                    args.out))
        side = UPSCALE_LR_SIDE if device.type == "cuda" else 64
        run_section(report, "upscaling: bundled models in fp32, fp16 and bf16", budget.cap("upscale"),
                    lambda section, until: upscale_section(section, until, device, side))
    print(report.render(), flush=True)
    return 0


def _commit() -> str:
    """HEAD of this checkout; GPU_CHECK_COMMIT where the copy that runs has no .git (a device machine)."""
    if os.environ.get("GPU_CHECK_COMMIT"):
        return os.environ["GPU_CHECK_COMMIT"]
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                              timeout=10).stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown (no git)"


if __name__ == "__main__":
    sys.exit(main())
