"""Our upscaler on this CPU, as `auto` runs it, against an older commit's PyTorch path: what the ncnn issue's
speed-ups are measured against ("today's PyTorch path" when it was filed, 962c613).

    python bench/against_commit.py                                   # 962c613, the issue's models and sizes
    python bench/against_commit.py --ref HEAD~5 --models default-x4:1024 --pairs 5

The old commit is checked out in a temporary git worktree. Each side runs in a fresh process of this
Python (one warm-up, then the best of --rounds), the two taken in turn --pairs times, because timings on a
shared 2-core machine move 10-20% from minute to minute: the figure is the median of the pairs' ratios, with
their range. Before the first pair each model is timed for `auto` (engine.upscaling.cost.time_cpu_engines),
as the window's model list does, so ours runs the engine and Winograd choice timed faster here.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.upscale_rows import photo  # noqa: E402
from engine.upscaling.cost import time_cpu_engines  # noqa: E402

ISSUE_REF = "962c613"
ISSUE_MODELS = ("realesrgan-x4plus:160", "photo-x4:160", "realesr-animevideov3-x4:160", "default-x4:160", "faithful-x4:160",
                "faithful-x2:160", "photo-x4:768", "default-x4:1024")

# Run in the child: argv = root, "old"|"ours", model name, image .npy, rounds. Prints the best seconds.
CHILD = """
import sys, time
import numpy as np
root, side, name, image_path, rounds = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
sys.path.insert(0, root)
from engine.upscaling.upscaler import Upscaler
if side == "old":
    from engine.models.registry import load_model
    upscaler = Upscaler(load_model(name), device="cpu")
else:
    from engine.upscaling.backends import open_backend
    upscaler = Upscaler(open_backend(name).backend)
image = np.load(image_path)
upscaler.upscale(image)
best = float("inf")
for _ in range(rounds):
    started = time.perf_counter()
    upscaler.upscale(image)
    best = min(best, time.perf_counter() - started)
print(best)
"""


class RunFailed(Exception):
    """A side could not time the model (the old commit lacks it, say): the child's last line of error."""


def _child(root: Path, side: str, name: str, image: Path, rounds: int) -> float:
    done = subprocess.run([sys.executable, "-c", CHILD, str(root), side, name, str(image), str(rounds)],
                          cwd=root, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RunFailed(f"{side}: " + (done.stderr.strip().splitlines() or [f"exit status {done.returncode}"])[-1])
    return float(done.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ref", default=ISSUE_REF, help="the commit to measure against")
    parser.add_argument("--models", nargs="+", default=list(ISSUE_MODELS), help="bundled model:input side")
    parser.add_argument("--pairs", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    results = {}
    with tempfile.TemporaryDirectory(prefix="against-") as temp:
        old_root = Path(temp) / "old"
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", "--quiet", str(old_root), args.ref],
                       check=True)
        try:
            for spec in args.models:
                name, side = spec.split(":")
                chosen = time_cpu_engines(name)[1].label
                image_path = Path(temp) / f"{side}.npy"
                np.save(image_path, photo(int(side)))
                try:
                    pairs = [(_child(old_root, "old", name, image_path, args.rounds),
                              _child(ROOT, "ours", name, image_path, args.rounds)) for _ in range(args.pairs)]
                except RunFailed as exc:
                    print(f"{name:<20} {side:>5} px: not measured ({exc})", flush=True)
                    continue
                ratios = [old / ours for old, ours in pairs]
                results[spec] = {"old_s": [p[0] for p in pairs], "ours_s": [p[1] for p in pairs],
                                 "auto": chosen}
                print(f"{name:<20} {side:>5} px: {args.ref} {min(p[0] for p in pairs):6.2f} s, ours "
                      f"({results[spec]['auto']}) {min(p[1] for p in pairs):6.2f} s: {statistics.median(ratios):.2f}x "
                      f"(pairs {min(ratios):.2f}-{max(ratios):.2f}x)", flush=True)
        finally:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(old_root)], check=False)
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
