"""Bad files and faults against `python -m engine train` and `eval`: does every case hold?

    python scripts/train_matrix.py [--only SUBSTRING]

A case holds when the command ends in time with the expected exit status, at most one `error:` line, no
traceback, no advice to load unsafely, no code run from a hostile file, no file of the user's removed or
truncated, and (for a killed, stopped or resumed run) the run carries on. The upscale command's matrix is scripts/upscale_matrix.py. The full-disk case mounts a 1 MB
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
    """The command's outcome; one that runs past `timeout` raises TimeoutExpired (a hang: the case fails)."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    done = subprocess.run([PYTHON, "-m", "engine", *args], cwd=cwd, env=env, capture_output=True, encoding="utf-8",
                          errors="backslashreplace", timeout=timeout, check=False)
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


LOOPING_EPS = b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\n{ } loop\nshowpage\n%%EOF\n"


def expecting(run: Callable[[Path], Outcome], text: str) -> Callable[[Path], Outcome | str | None]:
    """`run`, and `text` must be in its messages."""
    def check(tmp: Path) -> Outcome | str | None:
        outcome = run(tmp)
        return outcome if text in outcome.err else f"no '{text}' in: {outcome.err.strip()[-300:]}"
    return check


def stop_by_signal(signum: int) -> Callable[[Path], Outcome | str | None]:
    """SIGTERM / SIGHUP mid-run: the run must end with a checkpoint past where it started and an export."""
    def run(tmp: Path) -> Outcome | str | None:
        out = fresh_run(tmp)
        exported = (out / "generator.safetensors").stat().st_mtime_ns
        env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
        process = subprocess.Popen([PYTHON, "-m", "engine", "train", "--out", str(out), "--resume", "--steps",
                                    "100000"], cwd=tmp, env=env, stderr=subprocess.PIPE, text=True)
        time.sleep(10)
        process.send_signal(signum)
        try:
            _, err = process.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            return "did not stop within 60 s of the signal"
        step = torch.load(out / "checkpoint.pt", weights_only=True)["progress"]["step"]
        if step <= 2 or (out / "generator.safetensors").stat().st_mtime_ns == exported:
            return f"no new checkpoint or export (checkpoint at step {step})"
        return Outcome(process.returncode, "", err)
    return run


def truncated_best(tmp: Path) -> Outcome:
    out = fresh_run(tmp)
    best = out / "best.safetensors"
    best.write_bytes(best.read_bytes()[:1000])
    return cli("train", "--out", str(out), "--resume", "--steps", "4", cwd=tmp)


def resume_with(*flags: str) -> Callable[[Path], Outcome]:
    def run(tmp: Path) -> Outcome:
        return cli("train", "--out", str(fresh_run(tmp)), "--resume", "--steps", "4", *flags, cwd=tmp)
    return run


def train_with(*settings: str, data: Callable[[Path], Path] | None = None, out: str = "run") -> Callable[[Path], Outcome]:
    def run(tmp: Path) -> Outcome:
        folder = (data or (lambda t: write_images(t / "data")))(tmp)
        given = [item.format(data=folder) for item in settings]
        return cli("train", "--data", str(folder), "--out", str(tmp / out), "--steps", "2", "--set", *TINY, *given,
                   cwd=tmp, timeout=120)
    return run


def hostile_folder(tmp: Path) -> Path:
    folder = write_images(tmp / "data")
    (folder / "loop.eps").write_bytes(LOOPING_EPS)
    (folder / "ps.png").write_bytes(LOOPING_EPS)
    os.mkfifo(folder / "pipe.png")
    os.mkfifo(folder / "pipe")
    return folder


def non_utf8_folder(tmp: Path) -> Path:
    folder = write_images(tmp / os.fsdecode(b"data\xff"))
    (folder / "img0.png").rename(folder / os.fsdecode(b"caf\xe9.png"))
    return folder


def odd_init_model(change: dict[str, object]) -> Callable[[Path], Outcome]:
    def run(tmp: Path) -> Outcome:
        from engine.archs.networks import CompactGenerator
        from engine.models.export import export_generator

        net = CompactGenerator(3, 8, 2, 4)
        model = export_generator(tmp / "odd.safetensors", net.state_dict(), {**net.spec(), **change}, (0.0, 1.0))
        settings = [item for item in TINY if not item.startswith("init_generator")]
        return cli("train", "--data", str(write_images(tmp / "data")), "--out", str(tmp / "run"), "--steps", "2",
                   "--set", *settings, f"init_generator={model}", cwd=tmp, timeout=120)
    return run


def eval_non_utf8(tmp: Path) -> Outcome:
    return cli("eval", "--model", "faithful-x4", "--data", str(non_utf8_folder(tmp)), cwd=tmp)


USER_TEMPS = (".checkpoint.pt.abc123.tmp", ".tmpXYZ12", ".notes.tmp")


def user_files_in_run(tmp: Path) -> Outcome | str | None:
    """A user's temporary-looking files in the run folder, and the samples folder a link to a user's folder:
    a resume must remove none of them."""
    out = fresh_run(tmp)
    mine = tmp / "mine"
    mine.mkdir()
    for name in USER_TEMPS:
        (out / name).write_text("the user's")
        (mine / name).write_text("the user's")
    shutil.rmtree(out / "samples", ignore_errors=True)
    (out / "samples").symlink_to(mine)
    outcome = cli("train", "--out", str(out), "--resume", "--steps", "4", cwd=tmp)
    lost = [str(folder / name) for folder in (out, mine) for name in USER_TEMPS if not (folder / name).is_file()]
    return f"removed: {', '.join(lost)}" if lost else outcome


def symlinked_lock(tmp: Path) -> Outcome | str | None:
    """The run folder's .lock is a link to a user's file: refused in one line, the file it points to untouched."""
    precious = tmp / "precious.txt"
    precious.write_text("keep me")
    (tmp / "run").mkdir()
    (tmp / "run" / ".lock").symlink_to(precious)
    outcome = train_with()(tmp)
    return outcome if precious.read_text() == "keep me" else "the file the .lock link points to was truncated"


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
        # second round
        Case("train: SIGTERM mid-run", stop_by_signal(signal.SIGTERM), (128 + signal.SIGTERM,)),
        Case("train: SIGHUP mid-run", stop_by_signal(signal.SIGHUP), (128 + signal.SIGHUP,)),
        Case("train: truncated best.safetensors, resume", expecting(truncated_best, "best-export-rebuilt"), (0,)),
        Case("train: --resume --scale 2", expecting(resume_with("--scale", "2"), "it has scale=4"), (2,)),
        Case("train: --resume --preset classic", expecting(resume_with("--preset", "classic"), "asked: 'classic'"), (2,)),
        Case("train: --resume --set lr_g=0.5", expecting(resume_with("--set", "lr_g=0.5"), "asked: 0.5"), (2,)),
        Case("train: val_dir = data folder", expecting(train_with("val_dir={data}"), "validation-is-training-data"),
             (0,)),
        Case("train: gen_features=10^7", train_with("gen_features=10000000"), (2,)),
        Case("train: disc_features=10^8", train_with("disc_features=100000000"), (2,)),
        Case("train: gen_blocks=10^7", train_with("gen_blocks=10000000"), (2,)),
        Case("train: batch_size=10^6", train_with("batch_size=1000000"), (2,)),
        Case("train: hr_patch=10^6", train_with("hr_patch=1000000"), (2,)),
        Case("train: workers=1000", expecting(train_with("workers=1000"), "workers-capped"), (0,)),
        Case("train: EPS, PostScript .png and FIFOs in the folder", expecting(train_with(data=hostile_folder),
                                                                           "skipped"), (0,)),
        Case("train: data and run folders not UTF-8", train_with(data=non_utf8_folder, out=os.fsdecode(b"run\xfe")),
             (0,)),
        Case("eval: file names not UTF-8", eval_non_utf8, (0,)),
        Case("train: init model with stored scale 0", expecting(odd_init_model({"scale": 0}), "x0"), (2,)),
        Case("train: init model with 2 input channels", odd_init_model({"in_channels": 2}), (2,)),
        Case("train: init model asking for 10^7 layers", odd_init_model({"num_conv": 10**7}), (2,)),
        Case("train: a user's .tmp files and a linked samples folder", user_files_in_run, (0,)),
        Case("train: .lock is a link to a user's file", symlinked_lock, (2,)),
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
