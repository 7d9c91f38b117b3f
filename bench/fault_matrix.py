"""The bad-input and fault matrix of issue 13, run against the real command line: each case either holds
(the expected exit status, at most a one-line message and no traceback, no input changed or lost, the
promised files where they should be) or fails, and the counts are printed.

    python bench/fault_matrix.py [--only SUBSTRING] [--keep DIR]

Cases that need root (a read-only or a full filesystem mounted as tmpfs) are skipped without it.
"""

from __future__ import annotations

import argparse
import hashlib
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


def digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


# ----------------------------------------------------------------------------- inputs
def photo(size: tuple[int, int] = (96, 64), seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:size[1], 0:size[0]]
    base = np.stack([(x * 3) % 256, (y * 4) % 256, ((x + y) * 2) % 256], axis=-1)
    return np.clip(base + rng.integers(-12, 13, base.shape), 0, 255).astype(np.uint8)


def write_inputs(folder: Path) -> dict[str, Path]:
    """One file per kind of input the matrix feeds to `upscale`."""
    folder.mkdir(parents=True, exist_ok=True)
    rgb = photo()
    paths: dict[str, Path] = {}

    def save(name: str, image: Image.Image, **kwargs: object) -> None:
        paths[name] = folder / name
        image.save(paths[name], **kwargs)

    save("good.png", Image.fromarray(rgb))
    save("good.jpg", Image.fromarray(rgb))
    save("one_pixel.png", Image.fromarray(rgb[:1, :1]))
    save("grey16.png", Image.fromarray(rgb[..., 0].astype(np.uint16) * 257))
    save("cmyk.jpg", Image.fromarray(rgb).convert("CMYK"))
    save("palette_alpha.png", Image.fromarray(rgb).convert("P"), transparency=0)
    la = Image.fromarray(rgb[..., 0]).convert("LA")
    save("grey_alpha.png", la)
    exif = Image.Exif()
    exif[0x0112] = 6
    save("rotated.jpg", Image.fromarray(rgb), exif=exif.tobytes())
    frames = [Image.fromarray(photo(seed=i)) for i in range(3)]
    paths["animated.gif"] = folder / "animated.gif"
    frames[0].save(paths["animated.gif"], save_all=True, append_images=frames[1:])
    paths["corrupt.png"] = folder / "corrupt.png"
    paths["corrupt.png"].write_bytes(b"\x89PNG\r\n\x1a\n" + os.urandom(200))
    good = paths["good.png"].read_bytes()
    paths["truncated.png"] = folder / "truncated.png"
    paths["truncated.png"].write_bytes(good[: len(good) // 2])
    paths["zero.png"] = folder / "zero.png"
    paths["zero.png"].write_bytes(b"")
    paths["text.png"] = folder / "text.png"
    paths["text.png"].write_text("not an image")
    paths["jpeg_named.png"] = folder / "jpeg_named.png"
    shutil.copy(paths["good.jpg"], paths["jpeg_named.png"])
    paths["bomb.png"] = folder / "bomb.png"  # a header that claims 50000 x 50000 pixels
    header = bytearray(good[:33])
    header[16:24] = (50000).to_bytes(4, "big") * 2
    paths["bomb.png"].write_bytes(bytes(header) + good[33:])
    paths["broken_link.png"] = folder / "broken_link.png"
    paths["broken_link.png"].symlink_to(folder / "nowhere.png")
    return paths


# ----------------------------------------------------------------------------- cases
def upscale_one(name: str, codes: tuple[int, ...], expect_out: bool) -> Case:
    def run(tmp: Path) -> Outcome | str | None:
        inputs = write_inputs(tmp / "in")
        before = digest(tmp / "in")
        outcome = cli("upscale", str(inputs[name]), "--out", str(tmp / "out"), "--device", "cpu", cwd=tmp)
        if digest(tmp / "in") != before:
            return "an input changed"
        made = list((tmp / "out").rglob("*.*")) if (tmp / "out").exists() else []
        if expect_out and not made:
            return "no output written"
        if not expect_out and made:
            return f"an output was written for a bad input: {made[0].name}"
        return outcome
    return Case(f"upscale {name}", run, codes)


def upscale_many(title: str, argv: Callable[[Path, dict[str, Path]], list[str]],
                 check: Callable[[Path, dict[str, str], Outcome], str | None], codes: tuple[int, ...] = (0,)) -> Case:
    def run(tmp: Path) -> Outcome | str | None:
        inputs = write_inputs(tmp / "in")
        before = digest(tmp / "in")
        outcome = cli("upscale", *argv(tmp, inputs), "--device", "cpu", cwd=tmp)
        return check(tmp, before, outcome) or outcome
    return Case(title, run, codes)


def inputs_intact(tmp: Path, before: dict[str, str], outcome: Outcome) -> str | None:
    after = digest(tmp / "in")
    changed = [name for name in before if after.get(name) != before[name]]
    return f"inputs changed or lost: {changed}" if changed else None


def train_case(title: str, prepare: Callable[[Path], list[str]], codes: tuple[int, ...]) -> Case:
    def run(tmp: Path) -> Outcome | str | None:
        return cli("train", *prepare(tmp), cwd=tmp)
    return Case(title, run, codes)


def fresh_run(tmp: Path, steps: int = 2) -> Path:
    data = tmp / "data"
    data.mkdir(exist_ok=True)
    for i in range(5):
        Image.fromarray(photo((64, 56 + 8 * i), seed=i)).save(data / f"img{i}.png")
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


def read_only_output(tmp: Path) -> Outcome | str | None:
    inputs = write_inputs(tmp / "in")
    target = mounted(tmp, "ro,size=1m")
    try:
        return cli("upscale", str(inputs["good.png"]), "--out", str(target), "--device", "cpu", cwd=tmp)
    finally:
        subprocess.run(["umount", str(target)], check=False)


def output_named_like_an_input(tmp: Path, inputs: dict[str, Path]) -> list[str]:
    """a.png's result would be named a_x4.png, which is itself an input in the output folder."""
    shutil.copy(inputs["good.png"], tmp / "in" / "good_x4.png")
    return [str(inputs["good.png"]), str(tmp / "in" / "good_x4.png"), "--out", str(tmp / "in"), "--overwrite"]


def two_outputs(tmp: Path, before: dict[str, str], outcome: Outcome) -> str | None:
    made = len(list((tmp / "out").glob("*.png")))
    return inputs_intact(tmp, before, outcome) or (None if made == 2 else f"two inputs, {made} output(s)")


def not_mistaken_for_empty(tmp: Path, before: dict[str, str], outcome: Outcome) -> str | None:
    return inputs_intact(tmp, before, outcome) or ("said no images" if "no images" in outcome.err else None)


def bad_vgg_weights(content: Callable[[Path], None]) -> Callable[[Path], list[str]]:
    def prepare(tmp: Path) -> list[str]:
        content(tmp / "vgg.pth")
        data = write_inputs(tmp / "in")["good.png"].parent
        settings = [item for item in TINY if not item.startswith("perceptual_weight")]
        return ["--data", str(data), "--out", str(tmp / "run"), "--set", *settings, f"vgg_weights={tmp / 'vgg.pth'}"]
    return prepare


def eval_with_a_bomb(tmp: Path) -> Outcome:
    write_inputs(tmp / "in")
    return cli("eval", "--model", "faithful-x4", "--data", str(tmp / "in"), cwd=tmp)


def cases() -> list[Case]:
    good = ["good.png", "good.jpg", "one_pixel.png", "grey16.png", "cmyk.jpg", "palette_alpha.png", "grey_alpha.png",
            "rotated.jpg", "animated.gif", "jpeg_named.png"]
    bad = ["corrupt.png", "truncated.png", "zero.png", "text.png", "bomb.png", "broken_link.png"]
    return [
        *(upscale_one(name, (0,), True) for name in good),
        *(upscale_one(name, (1, 2), False) for name in bad),
        upscale_many("upscale: an output name equal to another input, --overwrite", output_named_like_an_input,
                     inputs_intact, (0, 1)),
        upscale_many("upscale: two inputs to one format, --overwrite",
                     lambda tmp, i: [str(i["good.png"]), str(i["good.jpg"]), "--out", str(tmp / "out"), "--format",
                                     "png", "--overwrite"], two_outputs),
        upscale_many("upscale: results into the input folder", lambda tmp, i: [str(tmp / "in"), "--out", str(tmp / "in")],
                     not_mistaken_for_empty, (0, 1)),
        Case("upscale: a read-only output folder", read_only_output, (1, 2), needs_root=True),
        train_case("train: a 1-byte checkpoint", with_checkpoint(lambda p: p.write_bytes(b"\x80")), (2,)),
        train_case("train: a random checkpoint", with_checkpoint(lambda p: p.write_bytes(os.urandom(4096))), (2,)),
        train_case("train: a text checkpoint", with_checkpoint(lambda p: p.write_text("step=3")), (2,)),
        train_case("train: a hostile checkpoint", with_checkpoint(hostile_checkpoint), (2,)),
        train_case("train: a flipped byte in the checkpoint", with_checkpoint(flipped_byte), (2,)),
        train_case("train: hostile vgg_weights", bad_vgg_weights(hostile_checkpoint), (2,)),
        train_case("train: random vgg_weights", bad_vgg_weights(lambda p: p.write_bytes(os.urandom(999))), (2,)),
        train_case("train: NaN loss weight", lambda tmp: ["--data", str(tmp), "--out", str(tmp / "run"), "--set",
                                                          *TINY, "pixel_weight=nan"], (2,)),
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
