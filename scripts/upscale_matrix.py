"""Bad and unusual inputs against `python -m engine upscale`: does every case hold?

    python scripts/upscale_matrix.py               # this checkout
    python scripts/upscale_matrix.py --root DIR    # another checkout (e.g. an older commit), same cases

A case holds when the command ends within its time limit (a hang fails) with the expected exit status and
messages, no traceback, every file that was there before byte-identical (inputs, and a user's own
temporary-looking files), no temporary file of ours left, and the output as the case expects (16 bits kept,
alpha kept, turned upright, ...). The unreadable-input and read-only-folder cases run as user `nobody` when this
runs as root (root reads and writes through file permissions); the full-disk case mounts a 1 MB tmpfs and
is skipped without root. Prints one line per case and the counts.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import pickle
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, PngImagePlugin

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from engine.archs.networks import CompactGenerator  # noqa: E402
from engine.models.export import export_generator  # noqa: E402

ORIENTATION = 0x0112
Image.MAX_IMAGE_PIXELS = None  # the results checked here are ours, some larger than Pillow's default limit
PngImagePlugin.MAX_TEXT_CHUNK = 16 << 20  # and some carry a colour profile above Pillow's default 1 MiB


@dataclass
class Case:
    """Inputs made in `folder`, the CLI arguments after the inputs, and what must be true afterwards."""

    name: str
    make: Callable[[Path], list[str]]  # makes the inputs, returns the command's input arguments
    code: int
    expect: Callable[[Path, str], list[str]] = lambda folder, err: []  # problems found, if any
    extra: list[str] = field(default_factory=list)
    out: str = "out"  # output folder, relative to the case folder
    as_nobody: bool = False
    model: Callable[[Path], Path] | None = None  # makes the --model file (default: a tiny real model)
    before: Callable[[list[str], Path, dict[str, str]], list[str]] | None = None  # runs first; problems found
    needs_root: bool = False
    cleanup: Callable[[Path], None] = lambda folder: None
    timeout: float = 300


class Hostile:
    """Unpickling this runs a command: a model file must never be unpickled unsafely."""

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (os.system, ("touch pwned",))


def noise(height: int, width: int, channels: int = 3, seed: int = 0) -> np.ndarray:
    shape = (height, width, channels) if channels > 1 else (height, width)
    return np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def rgb16_png(path: Path, height: int = 10, width: int = 12) -> None:
    """16-bit RGB written by hand: Pillow cannot write it."""
    values = np.random.default_rng(1).integers(0, 65536, (height, width, 3), dtype=np.uint16).astype(">u2")
    raw = b"".join(b"\x00" + row.tobytes() for row in values)
    header = struct.pack(">IIBBBBB", width, height, 16, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", header) + png_chunk(b"IDAT", zlib.compress(raw))
                     + png_chunk(b"IEND", b""))


def write(folder: Path, name: str, data: bytes) -> list[str]:
    (folder / name).write_bytes(data)
    return [str(folder / name)]


def save(folder: Path, name: str, image: Image.Image, **params: object) -> list[str]:
    image.save(folder / name, **params)
    return [str(folder / name)]


def only_output(folder: Path) -> Image.Image:
    outputs = [p for p in (folder / "out").rglob("*") if p.is_file()]
    if len(outputs) != 1:
        raise AssertionError(f"expected one output, found {[p.name for p in outputs]}")
    return Image.open(outputs[0])


def output_is(check: Callable[[Image.Image, Path], bool], what: str) -> Callable[[Path, str], list[str]]:
    def expect(folder: Path, err: str) -> list[str]:
        try:
            with only_output(folder) as image:
                return [] if check(image, folder) else [f"output is not {what}"]
        except (AssertionError, OSError, ValueError) as exc:
            return [str(exc)]
    return expect


def message(text: str) -> Callable[[Path, str], list[str]]:
    return lambda folder, err: [] if text in err else [f"no '{text}' in the messages"]


def hostile_model(folder: Path) -> Path:
    path = folder / "model.pth"
    path.write_bytes(pickle.dumps({"params": Hostile()}))
    return path


def mounted_out(folder: Path) -> list[str]:
    """A 1 MB filesystem as the output folder, and an input whose (noisy) result is 3 MB."""
    (folder / "out").mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(folder / "out")], check=True)
    return save(folder, "big.png", Image.fromarray(noise(256, 256)))


def unmount_out(folder: Path) -> None:
    subprocess.run(["umount", str(folder / "out")], check=False)


def kill_while_writing(command: list[str], folder: Path, env: dict[str, str]) -> list[str]:
    """Start the same command, kill -9 it once its result is being written: no result may appear."""
    process = subprocess.Popen(command, cwd=folder, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while not list((folder / "out").glob(".srgan-*.tmp")) and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    if process.poll() is not None:
        return ["the first run ended before it wrote anything to kill"]
    process.send_signal(signal.SIGKILL)
    process.wait()
    problems = [] if list((folder / "out").glob(".srgan-*.tmp")) else ["kill -9 left no temporary file to test with"]
    return problems + [f"killed run left {p.name}" for p in (folder / "out").iterdir() if not p.name.startswith(".")]


LOOPING_EPS = b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\n{ } loop\nshowpage\n%%EOF\n"
# A user's own files that look temporary, one named as an older version named the result's temporary files.
USER_TEMPS = (".a_tiny_x4.png.abc123.tmp", ".tmpXYZ12", ".notes.tmp")


def small(folder: Path, name: str = "a.png") -> list[str]:
    return save(folder, name, Image.fromarray(noise(8, 8)))


def postscript_folder(folder: Path) -> list[str]:
    """A folder with a good image, a looping EPS and the same PostScript named .png."""
    (folder / "in").mkdir()
    small(folder / "in")
    (folder / "in" / "loop.eps").write_bytes(LOOPING_EPS)
    (folder / "in" / "ps.png").write_bytes(LOOPING_EPS)
    return [str(folder / "in")]


def fifo_folder(folder: Path) -> list[str]:
    """A folder with a good image, FIFOs with and without an image name, a socket and a link to a FIFO."""
    (folder / "in").mkdir()
    small(folder / "in")
    os.mkfifo(folder / "in" / "pipe.png")
    os.mkfifo(folder / "in" / "pipe")
    (folder / "in" / "link.jpg").symlink_to(folder / "in" / "pipe")
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(folder / "in" / "sock.png"))
    server.close()
    return [str(folder / "in")]


def user_temps_in_output(folder: Path) -> list[str]:
    """The output folder already holds a user's files whose names look temporary: they must survive."""
    (folder / "out").mkdir()
    for name in USER_TEMPS:
        (folder / "out" / name).write_text("the user's own")
    return small(folder)


def odd_model(change: dict[str, object]) -> Callable[[Path], Path]:
    def make(folder: Path) -> Path:
        net = CompactGenerator(3, num_feat=8, num_conv=2, scale=4)
        return export_generator(folder / "odd.safetensors", net.state_dict(), {**net.spec(), **change}, (0.0, 1.0))
    return make


def non_utf8_names(folder: Path) -> list[str]:
    """An input folder, a file and (by the case's `out`) an output folder whose names are not UTF-8."""
    inner = folder / os.fsdecode(b"fotos\xff")
    inner.mkdir()
    return small(inner, os.fsdecode(b"caf\xe9.png"))


def big_profile(folder: Path) -> list[str]:
    return save(folder, "icc.png", Image.fromarray(noise(8, 8)), icc_profile=os.urandom(2 << 20))


def user_files_kept(folder: Path, err: str) -> list[str]:
    return [f"{name} was removed" for name in USER_TEMPS if not (folder / "out" / name).is_file()]


def n_outputs(count: int, out: str = "out") -> Callable[[Path, str], list[str]]:
    def expect(folder: Path, err: str) -> list[str]:
        found = [p for p in (folder / out).rglob("*") if p.is_file() and not p.name.startswith(".")]
        return [] if len(found) == count else [f"{len(found)} outputs, expected {count}"]
    return expect


def all_of(*checks: Callable[[Path, str], list[str]]) -> Callable[[Path, str], list[str]]:
    return lambda folder, err: [problem for check in checks for problem in check(folder, err)]


def make_cases() -> list[Case]:
    def bomb(folder: Path) -> list[str]:
        header = struct.pack(">IIBBBBB", 50_000, 50_000, 8, 0, 0, 0, 0)
        (folder / "bomb.png").write_bytes(b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", header) + png_chunk(b"IEND", b""))
        return [str(folder / "bomb.png")]

    def truncated(folder: Path) -> list[str]:
        Image.fromarray(noise(40, 40)).save(folder / "full.png")
        (folder / "cut.png").write_bytes((folder / "full.png").read_bytes()[:200])
        (folder / "full.png").unlink()
        return [str(folder / "cut.png")]

    def rotated(folder: Path) -> list[str]:
        exif = Image.Exif()
        exif[ORIENTATION] = 6
        return save(folder, "turned.jpg", Image.fromarray(noise(10, 16)), exif=exif.tobytes())

    def palette_alpha(folder: Path) -> list[str]:
        image = Image.new("P", (8, 8), 0)
        image.putpalette([255, 0, 0, 0, 0, 255] + [0] * 762)
        image.paste(1, (4, 0, 8, 8))
        return save(folder, "palette.png", image, transparency=1)

    def animated(folder: Path) -> list[str]:
        frames = [Image.fromarray(noise(8, 8, seed=i)) for i in range(3)]
        return save(folder, "anim.gif", frames[0], save_all=True, append_images=frames[1:])

    def unreadable(folder: Path) -> list[str]:
        Image.fromarray(noise(8, 8)).save(folder / "secret.png")
        (folder / "secret.png").chmod(0)
        (folder / "out").mkdir(mode=0o777)
        (folder / "out").chmod(0o777)
        return [str(folder / "secret.png")]

    def read_only_out(folder: Path) -> list[str]:
        Image.fromarray(noise(8, 8)).save(folder / "a.png")
        (folder / "out").mkdir()
        (folder / "out").chmod(0o555)
        return [str(folder / "a.png")]

    def name_clash(folder: Path) -> list[str]:
        Image.fromarray(noise(10, 12)).save(folder / "a.png")
        Image.fromarray(noise(7, 9, seed=1)).save(folder / "a_x4.png")
        return [str(folder / "a.png"), str(folder / "a_x4.png")]

    def same_stem(folder: Path) -> list[str]:
        Image.fromarray(noise(10, 12)).save(folder / "good.png")
        Image.fromarray(noise(6, 8, seed=1)).save(folder / "good.jpg")
        return [str(folder / "good.png"), str(folder / "good.jpg")]

    def into_input_folder(folder: Path) -> list[str]:
        for index in range(3):
            Image.fromarray(noise(8, 8, seed=index)).save(folder / f"p{index}.png")
        return [str(folder)]

    def gradient(folder: Path, name: str, width: int, height: int) -> list[str]:
        ramp = np.linspace(0, 255, width, dtype=np.float32)[None, :, None] * np.ones((height, 1, 3), np.float32)
        return save(folder, name, Image.fromarray(ramp.astype(np.uint8)))

    def count_files(count: int) -> Callable[[Path, str], list[str]]:
        def expect(folder: Path, err: str) -> list[str]:
            found = len([p for p in folder.rglob("*") if p.is_file()])
            return [] if found == count else [f"{found} files, expected {count}"]
        return expect

    return [
        Case("corrupt", lambda f: write(f, "noise.png", os.urandom(500)), 1,
             message("is not an image file")),
        Case("truncated", truncated, 1, message("damaged or truncated")),
        Case("zero-byte", lambda f: write(f, "empty.png", b""), 1,
             message("is empty (0 bytes)")),
        Case("wrong extension", lambda f: save(f, "really_png.jpg", Image.fromarray(noise(8, 8)), format="PNG"), 0,
             output_is(lambda image, _: image.format == "PNG" and image.size == (32, 32), "a 32x32 PNG")),
        Case("1x1", lambda f: save(f, "dot.png", Image.fromarray(noise(1, 1))), 0,
             output_is(lambda image, _: image.size == (4, 4), "4x4")),
        Case("bomb 50000x50000", bomb, 1, message("refused as a possible decompression bomb")),
        Case("16-bit RGB PNG", lambda f: rgb16_png(f / "deep.png") or [str(f / "deep.png")], 0,
             output_is(lambda image, folder: next((folder / "out").iterdir()).read_bytes()[24] == 16,
                       "a 16-bit PNG")),
        Case("16-bit grey PNG", lambda f: save(f, "grey16.png", Image.fromarray(np.full((8, 8), 40_000, np.uint16))),
             0, output_is(lambda image, _: image.mode == "I;16", "16-bit grey")),
        Case("CMYK JPEG", lambda f: save(f, "cmyk.jpg", Image.fromarray(noise(8, 8)).convert("CMYK")), 0,
             output_is(lambda image, _: image.size == (32, 32), "32x32")),
        Case("palette + alpha", palette_alpha, 0,
             output_is(lambda image, _: image.mode == "RGBA" and image.getextrema()[3] == (0, 255), "RGBA with alpha")),
        Case("grey + alpha (LA)", lambda f: save(f, "la.png", Image.fromarray(noise(8, 8, 2))), 0,
             output_is(lambda image, _: image.mode == "LA", "grey + alpha")),
        Case("EXIF-rotated", rotated, 0, output_is(
            lambda image, _: image.size == (40, 64) and image.getexif().get(ORIENTATION) == 1, "upright 40x64")),
        Case("animated GIF", animated, 0, lambda folder, err: message("first frame only")(folder, err)
             + output_is(lambda image, _: image.size == (32, 32), "32x32")(folder, err)),
        Case("unreadable file", unreadable, 1, message("permission denied"), as_nobody=True),
        Case("read-only output folder", read_only_out, 1, message("Permission denied"), as_nobody=True),
        Case("--overwrite, output named as an input", name_clash, 0, count_files(4), extra=["--overwrite"], out="."),
        Case("two inputs, one output name", same_stem, 0, count_files(4),
             extra=["--format", "png", "--overwrite"]),
        Case("output folder = input folder", into_input_folder, 0,
             lambda folder, err: count_files(6)(folder, err) + (["'no images found'"] if "no images" in err else []),
             out="."),
        Case("huge: 3000x2000 in, 96 MP out", lambda f: gradient(f, "huge.png", 3000, 2000), 0,
             output_is(lambda image, _: image.size == (12000, 8000), "12000x8000")),
        Case("kill -9 while writing, then again", lambda f: gradient(f, "wide.png", 2000, 1500), 0,
             output_is(lambda image, _: image.size == (8000, 6000), "8000x6000"), before=kill_while_writing),
        Case("disk full (1 MB tmpfs)", mounted_out, 1,
             lambda folder, err: message("No space left on device")(folder, err) + count_files(1)(folder, err),
             needs_root=True, cleanup=unmount_out),
        Case("hostile pickled model", lambda f: save(f, "a.png", Image.fromarray(noise(8, 8))), 2,
             lambda folder, err: (["the model file ran code"] if (folder / "pwned").exists() else [])
             + count_files(2)(folder, err), model=hostile_model),
        # second round: things that are not plain image data, limits, names, a user's files
        Case("looping EPS given", lambda f: write(f, "loop.eps", LOOPING_EPS), 1,
             message("not an image file, or in a format this app cannot open"), timeout=60),
        Case("PostScript named .png given", lambda f: write(f, "ps.png", LOOPING_EPS), 1,
             message("not an image file"), timeout=60),
        Case("folder with EPS and PostScript .png", postscript_folder, 1,
             all_of(message("upscaled 1 image(s), 1 failed"), n_outputs(1)), timeout=60),
        Case("FIFO given", lambda f: os.mkfifo(f / "pipe.png") or [str(f / "pipe.png")], 1,
             message("is a named pipe (FIFO), not an image file"), timeout=60),
        Case("/dev/zero given", lambda f: ["/dev/zero"], 1, message("is a device, not an image file"), timeout=60),
        Case("folder with FIFOs, a socket, a link to a FIFO", fifo_folder, 1,
             all_of(message("upscaled 1 image(s), 3 failed"), n_outputs(1)), timeout=60),
        Case("a user's .x.tmp / .tmp* files in the output folder", user_temps_in_output, 0,
             all_of(user_files_kept, n_outputs(1))),
        Case("JPEG result wider than 65535", lambda f: gradient(f, "wide.png", 16400, 2), 1,
             message("a JPEG image can be at most 65535 pixels wide and high"), extra=["--format", "jpg"]),
        Case("WebP result wider than 16383", lambda f: gradient(f, "wide.png", 4100, 2), 1,
             message("a WEBP image can be at most 16383 pixels wide and high"), extra=["--format", "webp"]),
        Case("--width 1000000", small, 1, message("GB of memory to make"), extra=["--width", "1000000"]),
        Case("--scale 16 on a 4000x3000 (3 GP)", lambda f: gradient(f, "big.png", 4000, 3000), 1,
             message("GB of memory to make"), extra=["--scale", "16"]),
        Case("JPEG at the model's scale (streamed)", lambda f: gradient(f, "g.jpg", 300, 200), 0,
             output_is(lambda image, _: image.format == "JPEG" and image.size == (1200, 800), "a 1200x800 JPEG")),
        Case("PNG with a 2 MiB colour profile", big_profile, 0,
             output_is(lambda image, _: len(image.info.get("icc_profile", b"")) == 2 << 20, "with the profile")),
        Case("250-character result name", lambda f: small(f, "n" * 238 + ".png"), 0, n_outputs(1)),
        Case("names that are not UTF-8", non_utf8_names, 0, n_outputs(1, os.fsdecode(b"out\xfe")),
             out=os.fsdecode(b"out\xfe")),
        Case("model: stored scale 0", small, 2, message("upscales x0"), model=odd_model({"scale": 0})),
        Case("model: stored 2 input channels", small, 2, message("takes 2 input channels"),
             model=odd_model({"in_channels": 2})),
        Case("model: stored 10^7 layers", small, 2, message("num_conv=10000000"), model=odd_model({"num_conv": 10**7}),
             timeout=60),
        Case("model: stored 10^9 features", small, 2, message("num_feat=1000000000"),
             model=odd_model({"num_feat": 10**9})),
    ]


def digests(folder: Path) -> dict[Path, str]:
    return {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.rglob("*") if p.is_file()}


def run_case(case: Case, folder: Path, model: Path, root: Path) -> list[str]:
    folder.mkdir(mode=0o777)
    folder.chmod(0o777)
    inputs = case.make(folder)
    if case.model:
        model = case.model(folder)
    before = digests(folder)
    command = [sys.executable, "-m", "engine", "upscale", *inputs, "--model", str(model),
               "--out", str(folder / case.out), *case.extra]
    if case.as_nobody and os.geteuid() == 0:
        command = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", *command]
    env = {**os.environ, "PYTHONPATH": str(root)}
    earlier = case.before(command, folder, env) if case.before else []
    try:
        result = subprocess.run(command, cwd=folder, capture_output=True, encoding="utf-8", errors="backslashreplace",
                                env=env, timeout=case.timeout)
    except subprocess.TimeoutExpired:
        return earlier + [f"hung: no end within {case.timeout} s"]
    text = result.stdout + result.stderr
    problems = []
    if result.returncode != case.code:
        problems.append(f"exit {result.returncode}, expected {case.code}")
    if "Traceback" in text:
        problems.append("traceback: " + text.strip().splitlines()[-1])
    after = digests(folder)
    if any(after.get(path) != digest for path, digest in before.items()):
        problems.append("an input changed")
    if any(p.name.startswith(".srgan-") and p.name.endswith(".tmp") for p in folder.rglob("*")):
        problems.append("temporary file left")
    return earlier + problems + case.expect(folder, text)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=ROOT, help="the checkout whose engine runs (default: this one)")
    parser.add_argument("--only", help="run the cases whose name contains this")
    args = parser.parse_args()
    base = Path(tempfile.mkdtemp(prefix="upscale-matrix-"))
    base.chmod(0o755)
    try:
        net = CompactGenerator(3, num_feat=8, num_conv=2, scale=4)
        model = export_generator(base / "tiny.safetensors", net.state_dict(), net.spec(), (0.0, 1.0))
        model.chmod(0o644)
        held = 0
        cases = [case for case in make_cases() if not args.only or args.only in case.name]
        skipped = 0
        for index, case in enumerate(cases):
            if case.needs_root and os.geteuid() != 0:
                skipped += 1
                print(f"skip   {case.name} (needs root)")
                continue
            folder = base / f"case{index:02d}"
            try:
                problems = run_case(case, folder, model, args.root.resolve())
            finally:
                case.cleanup(folder)
            held += not problems
            verdict = f"FAILED {case.name}: {'; '.join(problems)}" if problems else f"held   {case.name}"
            print(verdict)
        failed = len(cases) - held - skipped
        print(f"\n{held} held, {failed} failed, {skipped} skipped, of {len(cases)} cases ({args.root.resolve()})")
        return 0 if failed == 0 else 1
    finally:
        for path in base.rglob("*"):
            if path.is_dir():
                path.chmod(0o755)
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
