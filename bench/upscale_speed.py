"""How fast does the upscaler run on this machine, and does its memory stay flat in the image size?

    python bench/upscale_speed.py            # about 2-3 minutes on a 2-core CPU
    python bench/upscale_speed.py --big      # adds the 8000x8000 memory run (minutes more)
    python bench/upscale_speed.py --peer     # adds Real-ESRGAN x4plus (scripts/install_peer.sh), ~1 min more

Prints, side by side: output megapixels/s and FLOPs per output pixel of the default generator, the
classic generator and Pillow's bicubic; the share of this CPU's measured float32 matmul peak that the
default generator reaches; the time of a 1-megapixel photo x4; and the peak RSS of a whole tiled
x4 run on 2000x2000 and 4000x4000 inputs (8000x8000 too with --big), each in its own process,
beside the bytes of its uint8 input and output. The memory runs use a one-conv net (1x1 conv + pixel
shuffle) to stay quick on two cores: what they measure is the pipeline around the model, which is the
same for every model.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import peer  # noqa: E402
from engine.archs import ClassicGenerator, CompactGenerator  # noqa: E402
from engine.evaluation import SuperResolve  # noqa: E402
from engine.models import BUNDLED_DIR, DEFAULT_MODEL, LoadedModel, load_model  # noqa: E402
from engine.tiling import auto_tile_size  # noqa: E402
from engine.upscaler import Upscaler  # noqa: E402

SCALE = 4
PHOTO_SIDE = 1000  # the 1-megapixel photo
CLASSIC_SIDE = 64  # the classic net does ~40x the default's work per pixel: a smaller input keeps it short
PEER_SIDE = 128  # Real-ESRGAN x4plus through ncnn takes about 10 s for 128x96 on this CPU
MEMORY_SIDES = (2000, 4000)  # --big adds 8000x8000: about 4 minutes on a busy 2-core CPU


def as_loaded(module: nn.Module, name: str, in_channels: int = 3,
              value_range: tuple[float, float] = (0.0, 1.0)) -> LoadedModel:
    """Wrap a randomly initialised network the way the registry would."""
    return LoadedModel(module=module.eval(), scale=SCALE, in_channels=in_channels, value_range=value_range,
                       name=name, kind="srgan-studio", supports_half=True, supports_bf16=True)


def default_model() -> LoadedModel:
    if (BUNDLED_DIR / f"{DEFAULT_MODEL}.safetensors").is_file():
        return load_model("default")
    return as_loaded(CompactGenerator(3, 32, 12, SCALE), "compact 32x12, random weights")


def one_conv_model() -> LoadedModel:
    """The cheapest possible x4 net: one 1x1 conv and a pixel shuffle. It leaves the time to the pipeline."""
    return as_loaded(nn.Sequential(nn.Conv2d(3, 3 * SCALE * SCALE, 1), nn.PixelShuffle(SCALE)), "one 1x1 conv")


def matmul_peak_gflops(size: int = 2048, reps: int = 5) -> float:
    """Best of `reps` float32 size x size matmuls: what this CPU can do at best."""
    a, b = torch.rand(size, size), torch.rand(size, size)
    torch.mm(a, b)
    best = min(_timed(lambda: torch.mm(a, b)) for _ in range(reps))
    return 2 * size**3 / best / 1e9


def _timed(work) -> float:
    start = time.perf_counter()
    work()
    return time.perf_counter() - start


def flops_per_output_pixel(module: nn.Module, channels: int) -> float:
    x = torch.rand(1, channels, 32, 32)
    with FlopCounterMode(display=False) as counter, torch.inference_mode():
        out = module(x)
    return counter.get_total_flops() / (out.shape[-1] * out.shape[-2])


def timed_upscale(upscale: SuperResolve, side: int, channels: int) -> tuple[float, float]:
    """(seconds, output MP/s) of one side x side x4 upscale, after a small warm-up run."""
    image = np.random.default_rng(0).integers(0, 256, (side, side, channels), dtype=np.uint8)
    upscale(image[:32, :32])
    seconds = _timed(lambda: upscale(image))
    return seconds, (side * SCALE) ** 2 / 1e6 / seconds


def model_row(model: LoadedModel, side: int) -> tuple[float, float, float]:
    """(seconds, output MP/s, FLOPs per output pixel) for one side x side upscale."""
    seconds, rate = timed_upscale(Upscaler(model, "cpu").upscale, side, model.in_channels)
    return seconds, rate, flops_per_output_pixel(model.module, model.in_channels)


def bicubic_row(side: int) -> tuple[float, float]:
    image = Image.fromarray(np.random.default_rng(0).integers(0, 256, (side, side, 3), dtype=np.uint8))
    seconds = min(_timed(lambda: image.resize((side * SCALE, side * SCALE), Image.Resampling.BICUBIC))
                  for _ in range(3))
    return seconds, (side * SCALE) ** 2 / 1e6 / seconds


def peak_rss_bytes() -> int:
    """This process's peak resident memory. VmHWM, because ru_maxrss survives exec on Linux and would
    report the parent's peak; ru_maxrss where there is no /proc."""
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def memory_child(side: int) -> None:
    """Runs in a subprocess: upscale a side x side uint8 input; print baseline and peak RSS in bytes."""
    upscaler = Upscaler(one_conv_model(), "cpu")
    upscaler.upscale(np.zeros((16, 16, 3), np.uint8))
    baseline = peak_rss_bytes()
    image = np.random.default_rng(0).integers(0, 256, (side, side, 3), dtype=np.uint8)
    seconds = _timed(lambda: upscaler.upscale(image))
    peak = peak_rss_bytes()
    print(baseline, peak, upscaler.tile, f"{seconds:.1f}")


def memory_row(side: int) -> str:
    result = subprocess.run([sys.executable, __file__, "--memory-child", str(side)], capture_output=True,
                            text=True, check=True)
    baseline, peak, tile, seconds = result.stdout.split()
    gb = 1024**3
    in_bytes, out_bytes = side * side * 3, (side * SCALE) ** 2 * 3
    band = int(tile) * SCALE * side * SCALE * 4 * 4  # float32 values (3 channels) + weights, one row of tiles
    tile_buffers = 4 * (int(tile) * SCALE) ** 2 * 3 * 4  # about four float32 HR tiles: model output and temporaries
    expected = int(baseline) + in_bytes + out_bytes + band + tile_buffers
    return (f"{side}x{side} -> {side * SCALE}x{side * SCALE}: peak RSS {int(peak) / gb:6.2f} GiB | "
            f"baseline {int(baseline) / gb:.2f} + input {in_bytes / gb:.3f} + output {out_bytes / gb:.3f} "
            f"+ band {band / gb:.3f} + tile buffers {tile_buffers / gb:.3f} (tile {tile}) = {expected / gb:.2f} GiB "
            f"expected | {seconds} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--big", action="store_true", help="also measure memory on an 8000x8000 input")
    parser.add_argument("--peer", action="store_true", help=f"also time the peer upscaler ({peer.NAME})")
    parser.add_argument("--memory-child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_child:
        memory_child(args.memory_child)
        return
    torch.manual_seed(0)
    print(f"CPU: {os.cpu_count()} cores, torch threads {torch.get_num_threads()}, "
          f"load average {os.getloadavg()[0]:.1f}; tile auto = "
          f"{auto_tile_size(torch.device('cpu'), CompactGenerator(3, 32, 12, SCALE), SCALE)} px for the default net")
    peak = matmul_peak_gflops()
    print(f"float32 matmul peak (2048^3, best of 5): {peak:.1f} GFLOP/s\n")

    default = default_model()
    classic = as_loaded(ClassicGenerator(1, SCALE), "random weights", 1, ClassicGenerator.value_range)
    d_seconds, d_rate, d_flops = model_row(default, PHOTO_SIDE)
    c_seconds, c_rate, c_flops = model_row(classic, CLASSIC_SIDE)
    b_seconds, b_rate = bicubic_row(PHOTO_SIDE)
    print(f"{'method':<48} {'input':>9} {'output MP/s':>12} {'FLOPs/out px':>13}")
    print(f"{'default: ' + default.name:<48} {PHOTO_SIDE:>4}^2 x3 {d_rate:>12.3f} {d_flops:>13,.0f}")
    print(f"{'classic: ' + classic.name + ', grey':<48} {CLASSIC_SIDE:>4}^2 x1 {c_rate:>12.4f} {c_flops:>13,.0f}")
    print(f"{'bicubic (Pillow)':<48} {PHOTO_SIDE:>4}^2 x3 {b_rate:>12.1f} {'-':>13}")
    p_rate = 0.0
    if args.peer:
        try:
            _, p_rate = timed_upscale(peer.load_peer(), PEER_SIDE, 3)
        except peer.PeerUnavailable as exc:
            print(f"peer: {exc}")
        else:
            print(f"{'peer: ' + peer.NAME + ' (ncnn, CPU)':<48} {PEER_SIDE:>4}^2 x3 {p_rate:>12.3f} {'-':>13}")
    achieved = d_rate * 1e6 * d_flops / 1e9
    photo_mp = (PHOTO_SIDE * SCALE) ** 2 / 1e6
    peer_note = f"; the peer ~{photo_mp / p_rate:.0f} s" if p_rate else ""
    print(f"\ndefault generator: {achieved:.1f} GFLOP/s = {achieved / peak:.0%} of the matmul peak")
    print(f"1-megapixel photo ({PHOTO_SIDE}x{PHOTO_SIDE}) x4 with the default generator: {d_seconds:.1f} s "
          f"(bicubic: {b_seconds * 1000:.0f} ms; classic would take ~{photo_mp / c_rate:.0f} s{peer_note})")
    print("\npeak memory of a whole tiled x4 run (one-conv net, separate process each):")
    for side in (*MEMORY_SIDES, 8000) if args.big else MEMORY_SIDES:
        print("  " + memory_row(side))


if __name__ == "__main__":
    main()
