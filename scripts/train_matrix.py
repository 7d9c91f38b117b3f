"""Bad files and faults against `python -m engine train` and `eval`: does every case hold?

    python scripts/train_matrix.py [--only SUBSTRING]

A case holds when the command ends with the expected exit status, at most one `error:` line, no traceback,
no advice to load unsafely, no code run from a hostile file, and (for a killed or resumed run) the run
carries on. The upscale command's matrix is scripts/upscale_matrix.py. The full-disk case mounts a 1 MB
tmpfs and needs root; it is skipped without it.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
TINY = ["hr_patch=32", "batch_size=2", "gen_features=8", "gen_blocks=2", "disc_features=8", "val_count=2",
        "val_every=2", "checkpoint_every=2", "device=cpu", "init_generator=", "perceptual_weight=0"]


@dataclass
class Outcome:
    code: int
    out: str
    err: str


@dataclass
class Case:
    name: str
    run: Callable[[Path], Outcome | str | None]  # an Outcome to check, a failure text, or None (held)
    codes: tuple[int, ...] = (0,)
    needs_root: bool = False


def cli(*args: str, cwd: Path, timeout: float = 300) -> Outcome:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    done = subprocess.run([PYTHON, "-m", "engine", *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=timeout, check=False)
    return Outcome(done.returncode, done.stdout, done.stderr)


def photo(size: tuple[int, int] = (96, 64), seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:size[1], 0:size[0]]
    base = np.stack([(x * 3) % 256, (y * 4) % 256, ((x + y) * 2) % 256], axis=-1)
    return np.clip(base + rng.integers(-12, 13, base.shape), 0, 255).astype(np.uint8)


def write_images(folder: Path, bomb: bool = False) -> Path:
    """Five small photos, and with `bomb` a PNG whose header claims 50000 x 50000 pixels."""
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(5):
        Image.fromarray(photo((64, 56 + 8 * i), seed=i)).save(folder / f"img{i}.png")
    if bomb:
        good = (folder / "img0.png").read_bytes()
        header = bytearray(good[:33])
        header[16:24] = (50000).to_bytes(4, "big") * 2
        (folder / "bomb.png").write_bytes(bytes(header) + good[33:])
    return folder


# ----------------------------------------------------------------------------- cases
def train_case(title: str, prepare: Callable[[Path], list[str]], codes: tuple[int, ...]) -> Case:
    def run(tmp: Path) -> Outcome | str | None:
        return cli("train", *prepare(tmp), cwd=tmp)
    return Case(title, run, codes)


def fresh_run(tmp: Path, steps: int = 2) -> Path:
    data = write_images(tmp / "data")
    out = tmp / "run"
    outcome = cli("train", "--data", str(data), "--out", str(out), "--steps", str(steps), "--set", *TINY, cwd=tmp)
    assert outcome.code == 0, outcome.err[-500:]
    return out


def with_checkpoint(content: Callable[[Path], None]) -> Callable[[Path], list[str]]:
    def prepare(tmp: Path) -> list[str]:
        out = fresh_run(tmp)
        content(out / "checkpoint.pt")
        return ["--out", str(out), "--resume", "--steps", "4"]
    return prepare


class Hostile:
    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (os.system, ("touch HACKED",))


def hostile_checkpoint(path: Path) -> None:
    torch.save({"generator_spec": Hostile()}, path)


def flipped_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


def kill_during_training(tmp: Path) -> Outcome | str | None:
    """kill -9 mid-run, then resume: the run must continue from its last checkpoint."""
    fresh_run(tmp)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen([PYTHON, "-m", "engine", "train", "--out", str(tmp / "run"), "--resume", "--steps",
                                "100000"], cwd=tmp, env=env, stderr=subprocess.PIPE, text=True)
    time.sleep(8)
    process.send_signal(signal.SIGKILL)
    process.wait()
    return cli("train", "--out", str(tmp / "run"), "--resume", "--steps", "40", cwd=tmp)


def mounted(tmp: Path, options: str) -> Path:
    folder = tmp / "mnt"
    folder.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(folder)], check=True)
    return folder


def disk_full_training(tmp: Path) -> Outcome | str | None:
    small = mounted(tmp, "size=1m")
    try:
        out = fresh_run(tmp)
        shutil.copytree(out, small / "run")
        outcome = cli("train", "--out", str(small / "run"), "--resume", "--steps", "400", cwd=tmp)
        if "No space left on device" not in outcome.err:
            return f"no 'No space left on device' in: {outcome.err.strip()[-200:]}"
        return outcome
    finally:
        subprocess.run(["umount", str(small)], check=False)


def bad_vgg_weights(content: Callable[[Path], None]) -> Callable[[Path], list[str]]:
    def prepare(tmp: Path) -> list[str]:
        content(tmp / "vgg.pth")
        settings = [item for item in TINY if not item.startswith("perceptual_weight")]
        return ["--data", str(write_images(tmp / "data")), "--out", str(tmp / "run"), "--set", *settings,
                f"vgg_weights={tmp / 'vgg.pth'}"]
    return prepare


def eval_with_a_bomb(tmp: Path) -> Outcome:
    return cli("eval", "--model", "faithful-x4", "--data", str(write_images(tmp / "in", bomb=True)), cwd=tmp)


def cases() -> list[Case]:
    return [
        train_case("train: a 1-byte checkpoint", with_checkpoint(lambda p: p.write_bytes(b"\x80")), (2,)),
        train_case("train: a random checkpoint", with_checkpoint(lambda p: p.write_bytes(os.urandom(4096))), (2,)),
        train_case("train: a text checkpoint", with_checkpoint(lambda p: p.write_text("step=3")), (2,)),
        train_case("train: a hostile checkpoint", with_checkpoint(hostile_checkpoint), (2,)),
        train_case("train: a flipped byte in the checkpoint", with_checkpoint(flipped_byte), (2,)),
        train_case("train: hostile vgg_weights", bad_vgg_weights(hostile_checkpoint), (2,)),
        train_case("train: random vgg_weights", bad_vgg_weights(lambda p: p.write_bytes(os.urandom(999))), (2,)),
        train_case("train: NaN loss weight", lambda tmp: ["--data", str(write_images(tmp / "data")), "--out",
                                                          str(tmp / "run"), "--set", *TINY, "pixel_weight=nan"], (2,)),
        Case("train: kill -9 mid-run, then resume", kill_during_training, (0,)),
        Case("train: disk full (1 MB tmpfs)", disk_full_training, (1,), needs_root=True),
        Case("eval: a folder with a 50000x50000 bomb", eval_with_a_bomb, (0,)),
    ]


def verdict(case: Case, result: Outcome | str | None, tmp: Path) -> str | None:
    if isinstance(result, str) or result is None:
        return result
    if result.code not in case.codes:
        return f"exit {result.code} (expected {case.codes}): {result.err.strip()[-300:]}"
    if "Traceback" in result.err or "weights_only" in result.err:
        return f"traceback or unsafe advice: {result.err.strip()[-300:]}"
    if (tmp / "HACKED").exists():
        return "a hostile file ran code"
    errors = [line for line in result.err.splitlines() if line.startswith("error:")]
    if len(errors) > 1:
        return f"{len(errors)} error lines"
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", help="run the cases whose name contains this")
    args = parser.parse_args(argv)
    root = os.geteuid() == 0
    held = failed = skipped = 0
    for case in cases():
        if args.only and args.only not in case.name:
            continue
        if case.needs_root and not root:
            print(f"skip  {case.name} (needs root)")
            skipped += 1
            continue
        with tempfile.TemporaryDirectory() as tmp:
            try:
                problem = verdict(case, case.run(Path(tmp)), Path(tmp))
            except Exception as exc:  # noqa: BLE001 - a crash of the case itself is a failure to report
                problem = f"{type(exc).__name__}: {exc}"
        held, failed = (held + 1, failed) if problem is None else (held, failed + 1)
        print(f"{'held' if problem is None else 'FAIL'}  {case.name}" + (f"\n      {problem}" if problem else ""),
              flush=True)
    print(f"\n{held} held, {failed} failed, {skipped} skipped")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
