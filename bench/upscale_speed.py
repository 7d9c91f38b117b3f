"""How fast does the upscaler run on this machine, where does the time go, and does memory stay flat?

    python bench/upscale_speed.py                # about 8 minutes on a 2-core CPU that others share
    python bench/upscale_speed.py --cpu-options  # adds what was tried on the CPU (about 2 minutes more)
    python bench/upscale_speed.py --peer         # adds Real-ESRGAN x4plus, the peer's and ours (scripts/install_peer.sh)
    python bench/upscale_speed.py --peer-only    # only that comparison
    python bench/upscale_speed.py --big          # adds an 8000x8000 memory run
    python bench/upscale_speed.py --engines      # only the engines side by side: ours on PyTorch and on ncnn
                                                 # (CPU, Vulkan where present), raw forwards, the peer; then
                                                 # ncnn's agreement with PyTorch (fp32, fp16 on Vulkan)

Everything runs in one process, side by side; each timing is the best of --repeats runs taken in turn,
because other processes share the CPU (the load average is printed before and after). It prints:
1. the automatic tile size against fixed ones for 1 MP and 4 MP inputs (default-x4, x4);
2. the default network's share of this CPU's float32 matmul peak on a 1 MP input; classic, bicubic, peer;
3. a 1 MP photo x4 end to end (decode, network, tiling and blending, PNG encode) and the CLI's wall time;
4. a batch of small images: images/s and how busy the cores are;
5. the GPU path (fp32/fp16/bf16, NCHW/channels_last, PSNR against fp32), or that it was skipped;
6. the peak RSS of whole x4 runs (PNG in, PNG out, fresh process) against the output's bytes + 1 GB.
The photo is a mosaic of the bundled sample crops, so PNG encoding sees real image content.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
from PIL import Image
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import peer  # noqa: E402
from bench.engine_compare import agreement_rows, larger_rows, speed_rows  # noqa: E402
from bench.upscale_rows import (SCALE, as_loaded, batch_rows, best_of, cpu_option_rows, default_model,  # noqa: E402
                                gpu_rows, memory_child, memory_row, no_network_model, photo, timings)
from engine.archs.networks import ClassicGenerator  # noqa: E402
from engine.io.images import read_image, save_image  # noqa: E402
from engine.upscaling.upscaler import Upscaler  # noqa: E402
from engine.models.registry import LoadedModel, load_model  # noqa: E402
from engine.upscaling.batch import BatchUpscaler, UpscaleOptions  # noqa: E402

SIDES = (1024, 2048)  # the 1 MP and 4 MP inputs of the tile table
FIXED_TILES = (128, 192, 256, 384, 512)
CLASSIC_SIDE = 64  # the classic net does ~40x the default's work per pixel: a smaller input keeps it short
PEER_SIDE = 128  # Real-ESRGAN x4plus through ncnn takes about 8 s for 128x128 on this CPU
X4PLUS = "realesrgan-x4plus"  # the bundled conversion of the peer's weights
MEMORY_SIDES = (2000, 4000)  # --big adds 8000x8000


def matmul_peak_gflops(size: int = 2048, reps: int = 5) -> tuple[float, float]:
    """What this CPU can do at best, from float32 size x size matmuls: (by wall time, best of `reps` on
    all of torch's threads; by CPU time, one thread's best times the thread count). The second does not
    depend on what other processes do meanwhile."""
    a, b = torch.rand(size, size), torch.rand(size, size)
    torch.mm(a, b)
    wall = 2 * size**3 / best_of(reps, {"mm": lambda: torch.mm(a, b)})["mm"] / 1e9
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    cpu = []
    for _ in range(reps):
        started = time.thread_time()
        torch.mm(a, b)
        cpu.append(time.thread_time() - started)
    torch.set_num_threads(threads)
    return wall, 2 * size**3 / min(cpu) / 1e9 * threads


def flops_per_output_pixel(module: nn.Module, channels: int) -> float:
    x = torch.rand(1, channels, 32, 32)
    with FlopCounterMode(display=False) as counter, torch.inference_mode():
        out = module(x)
    return counter.get_total_flops() / (out.shape[-1] * out.shape[-2])


def tile_table(model: LoadedModel, repeats: int) -> dict[int, tuple[float, float]]:
    """Print the automatic tile against fixed tiles per input size; return the auto tile's (wall, CPU)."""
    auto = Upscaler(model, "cpu")
    upscalers = {"auto": auto, **{str(tile): Upscaler(model, "cpu", tile=tile) for tile in FIXED_TILES}}
    print(f"tile size, {model.name} x{SCALE}, best of {repeats}, wall time / process CPU time in s "
          f"(auto = {auto.tile} px here):")
    print(f"  {'input':<11}" + "".join(f"{name:>14}" for name in upscalers) + "   auto vs best fixed (CPU, wall)")
    auto_times = {}
    for side in SIDES:
        image = photo(side)
        for upscaler in upscalers.values():
            upscaler.upscale(image[:64, :64])
        rounds = repeats if side == SIDES[0] else max(2, repeats - 1)
        seconds = timings(rounds, {name: (lambda u=u, image=image: u.upscale(image)) for name, u in upscalers.items()})
        fixed = [value for name, value in seconds.items() if name != "auto"]
        cpu = seconds["auto"][1] / min(value[1] for value in fixed) - 1
        wall = seconds["auto"][0] / min(value[0] for value in fixed) - 1
        print(f"  {side}x{side:<6}" + "".join(f"{w:>6.2f} /{c:>6.2f}" for w, c in seconds.values())
              + f"   {cpu:+.0%}, {wall:+.0%} (target: within +15%)")
        auto_times[side] = seconds["auto"]
    return auto_times


def model_rows(model: LoadedModel, photo_times: tuple[float, float], peak: tuple[float, float], repeats: int,
               with_peer: bool) -> None:
    """The default network's share of the matmul peak; classic, bicubic and the peer beside it."""
    flops = flops_per_output_pixel(model.module, model.in_channels)
    out_px = (SIDES[0] * SCALE) ** 2
    photo_seconds, photo_cpu = photo_times
    achieved = out_px * flops / photo_seconds / 1e9
    cores = torch.get_num_threads()
    as_if_ours = out_px * flops / (photo_cpu / cores) / 1e9
    print(f"\n{model.name} on {SIDES[0]}x{SIDES[0]} x4, {flops:,.0f} FLOPs/output px (target: >= 50% of the "
          f"matmul peak):\n  by wall time: {photo_seconds:.2f} s = {achieved:.0f} GFLOP/s = {achieved / peak[0]:.0%} "
          f"of {peak[0]:.0f}\n  by CPU time: {photo_cpu:.2f} s on {cores} cores = {as_if_ours:.0f} GFLOP/s = "
          f"{as_if_ours / peak[1]:.0%} of {peak[1]:.0f}")
    classic = as_loaded(ClassicGenerator(1, SCALE), "classic, random weights", 1, ClassicGenerator.value_range)
    grey = photo(CLASSIC_SIDE)[..., :1]
    classic_upscaler = Upscaler(classic, "cpu")
    classic_upscaler.upscale(grey[:16, :16])
    big = Image.fromarray(photo(SIDES[0]))
    seconds = best_of(repeats, {"classic": lambda: classic_upscaler.upscale(grey),
                                "bicubic": lambda: big.resize((SIDES[0] * SCALE,) * 2, Image.Resampling.BICUBIC)})
    classic_flops = flops_per_output_pixel(classic.module, 1)
    print(f"  classic ({CLASSIC_SIDE}^2 grey): {(CLASSIC_SIDE * SCALE) ** 2 / 1e6 / seconds['classic']:.3f} output "
          f"MP/s, {classic_flops:,.0f} FLOPs/output px; bicubic (Pillow): {out_px / 1e6 / seconds['bicubic']:.0f} "
          f"output MP/s; default: {out_px / 1e6 / photo_seconds:.2f} output MP/s")
    if with_peer:
        peer_rows(repeats)


def peer_rows(repeats: int) -> None:
    """Real-ESRGAN x4plus both ways on one photo, timed in turn: the peer's ncnn CPU path and our upscaler
    on the bundled conversion of the same weights."""
    try:
        upscale = peer.load_peer()
    except peer.PeerUnavailable as exc:
        print(f"  peer: {exc}")
        return
    ours = Upscaler(load_model(X4PLUS, device="cpu"), "cpu")
    image = photo(PEER_SIDE)
    upscale(image[:32, :32])
    ours.upscale(image[:32, :32])
    seconds = timings(repeats, {peer.NAME: lambda: upscale(image), f"ours, {X4PLUS}": lambda: ours.upscale(image)})
    out_mp = (PEER_SIDE * SCALE) ** 2 / 1e6
    print(f"\nReal-ESRGAN x4plus on a {PEER_SIDE}x{PEER_SIDE} photo x4, best of {repeats} (target: ours at least as "
          f"many output MP/s as the peer):")
    for name, (wall, cpu) in seconds.items():
        print(f"  {name:<28} {out_mp / wall:.3f} output MP/s ({wall:.2f} s wall, {cpu:.2f} s CPU)")


def split_rows(model: LoadedModel, repeats: int) -> None:
    """1 MP x4 from PNG to PNG: as the CLI runs it (rows streamed to the PNG while tiles run), each stage
    on its own (the network as the difference between the model and nearest-neighbour x4 run through the
    same tiling), and the CLI's own process."""
    with tempfile.TemporaryDirectory() as folder:
        source = Path(folder) / "photo.png"
        save_image(photo(SIDES[0]), source)
        loaded = read_image(source)
        upscaler, pipeline_only = Upscaler(model, "cpu"), Upscaler(no_network_model(), "cpu")
        result = upscaler.upscale(loaded.pixels)
        pipeline_only.upscale(loaded.pixels)
        target = Path(folder) / "out.png"
        options = UpscaleOptions(out_dir=str(Path(folder) / "batch"), overwrite=True)
        seconds = timings(repeats, {
            "batch": lambda: list(BatchUpscaler([source], options, model).run()),
            "decode": lambda: read_image(source), "upscale": lambda: upscaler.upscale(loaded.pixels),
            "tiling": lambda: pipeline_only.upscale(loaded.pixels),
            "encode": lambda: save_image(result, target, overwrite=True)})
        command = [sys.executable, "-m", "engine", "upscale", str(source), "--out", str(Path(folder) / "cli"),
                   "--overwrite"]
        cli = best_of(2, {"cli": lambda: subprocess.run(command, cwd=ROOT, check=True, capture_output=True)})["cli"]
        size_mb = target.stat().st_size / 1e6
    side, big = SIDES[0], SIDES[0] * SCALE
    print(f"\n{side}x{side} PNG x4 -> {big}x{big} PNG ({size_mb:.1f} MB), decode to PNG written, as the CLI does it: "
          f"{seconds['batch'][0]:.2f} s (CPU {seconds['batch'][1]:.1f} s)")
    parts = {"network": tuple(u - t for u, t in zip(seconds["upscale"], seconds["tiling"])),
             "decode": seconds["decode"], "tiling and blending": seconds["tiling"], "PNG encode": seconds["encode"]}
    for clock, name in ((0, "wall"), (1, "CPU")):
        total = sum(part[clock] for part in parts.values())
        print(f"  each stage alone, {name} time: network {parts['network'][clock]:.2f} s "
              f"({parts['network'][clock] / total:.0%}), the rest {total - parts['network'][clock]:.2f} s: "
              + ", ".join(f"{key} {value[clock]:.2f}" for key, value in parts.items() if key != "network"))
    print(f"  the CLI's process, same file: {cli:.2f} s (Python, torch and the model loading: about "
          f"{cli - seconds['batch'][0]:.1f} s of it)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="runs per timing, best kept (default 3)")
    parser.add_argument("--big", action="store_true", help="also measure memory on an 8000x8000 input")
    parser.add_argument("--peer", action="store_true", help=f"also time the peer upscaler ({peer.NAME}) against ours")
    parser.add_argument("--peer-only", action="store_true", help="time only the peer against ours (about a minute)")
    parser.add_argument("--cpu-options", action="store_true", help="also time what was tried on the CPU")
    parser.add_argument("--engines", action="store_true", help="only PyTorch, ncnn and the peer side by side, and "
                        "ncnn's agreement with PyTorch (about 15 minutes on 2 shared cores)")
    parser.add_argument("--memory-child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_child:
        memory_child(args.memory_child, default_model())
        return
    torch.manual_seed(0)
    if args.peer_only:
        peer_rows(args.repeats)
        return
    if args.engines:
        print(f"CPU: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at the start")
        speed_rows(args.repeats)
        larger_rows(args.repeats)
        agreement_rows()
        print(f"\nload average {os.getloadavg()[0]:.1f} at the end")
        return
    print(f"CPU: {os.cpu_count()} cores, torch threads {torch.get_num_threads()}, load average "
          f"{os.getloadavg()[0]:.1f} at the start")
    peak = matmul_peak_gflops()
    print(f"float32 matmul peak (2048^3, best of 5): {peak[0]:.0f} GFLOP/s by wall time on "
          f"{torch.get_num_threads()} threads, {peak[1]:.0f} by one thread's CPU time x {torch.get_num_threads()}\n")
    model = default_model()
    auto_times = tile_table(model, args.repeats)
    again = matmul_peak_gflops()  # measured again after the long runs; the higher one is the peak
    peak = (max(peak[0], again[0]), max(peak[1], again[1]))
    model_rows(model, auto_times[SIDES[0]], peak, args.repeats, args.peer)
    split_rows(model, args.repeats)
    batch_rows(model)
    gpu_rows(model, photo(SIDES[0]))
    if args.cpu_options:
        cpu_option_rows(model, args.repeats)
    print("\npeak memory of whole x4 runs (PNG in, default model, PNG out; a fresh process each):")
    for side in (*MEMORY_SIDES, 8000) if args.big else MEMORY_SIDES:
        print("  " + memory_row(side, Path(__file__)))
    print(f"\nload average {os.getloadavg()[0]:.1f} at the end; matmul peaks used: {peak[0]:.0f} GFLOP/s (wall), "
          f"{peak[1]:.0f} (CPU time)")


if __name__ == "__main__":
    main()
