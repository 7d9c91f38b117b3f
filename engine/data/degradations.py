"""How low-resolution inputs are made from HR images, for training and for the benchmarks alike: bicubic
downscaling (`downscale`), Real-ESRGAN's realistic model (`degrade`), and fixed web-photo degradations
(`WEB_PHOTOS`) that benchmarks score models on. Their blur kernels are in engine/data/blur_kernels.py.

Real-ESRGAN's second-order degradation model (Wang et al. 2021) teaches models what real photos suffer.

A picture someone drops into the app was blurred by a lens, resized, noised by a sensor and saved as a
JPEG, often more than once. A model trained on clean bicubic LR leaves all of that in its output. Here
each HR crop goes through blur -> resize -> noise -> JPEG, a second time with its own ranges, then a
resize to HR / scale and a ringing (sinc) filter before or after the last JPEG, and is quantised to 8 bits
as a saved file would be. Every parameter is drawn per sample from a CPU torch.Generator, so a batch is a
function of its seed; the pixels are processed on the batch's own device (JPEG on the CPU, see `jpeg`).

RealisticDegradation holds the probabilities and ranges; LIGHT, MEDIUM and STRONG are named instances.
This module must not import engine.training.config (config imports it).
"""

from __future__ import annotations

import dataclasses
import json
import math
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
import torch
import torch.nn.functional as F
from torchvision.io import decode_jpeg, encode_jpeg
from torchvision.transforms.v2.functional import rgb_to_grayscale

from engine.data.blur_kernels import KERNEL_SHAPES, filter2d, shaped_kernel, sinc_kernel
from engine.torch_threads import on_one_cpu_thread

DEGRADATIONS = ("bicubic", "realistic")
RESIZE_MODES = ("area", "bilinear", "bicubic")
KERNEL_SIZES = tuple(range(7, 22, 2))  # each kernel's size is drawn from these, as Real-ESRGAN does
# Poisson noise models a sensor whose white pixel collects this many photons (std 11/255 at mid grey
# for poisson_scale 1; Real-ESRGAN counts 2^ceil(log2(distinct 8-bit levels)), i.e. about 256).
PHOTONS = 255.0
Range = tuple[float, float]


class DegradationError(ValueError):
    """A degradation parameter is unknown or out of range; the message names it."""


def _typed(value: Any) -> Any:
    """A stored or typed value in its field's type: ranges as tuples (JSON gives lists), numbers as float."""
    if isinstance(value, list):
        value = tuple(value)
    if isinstance(value, tuple):
        return tuple(float(v) if isinstance(v, int) and not isinstance(v, bool) else v for v in value)
    return float(value) if isinstance(value, int) and not isinstance(value, bool) else value


class Stage(NamedTuple):
    """One pass of blur -> resize -> noise -> JPEG; the dataclass holds the first pass's parameters under
    these names and the second's with a '2' appended."""

    blur_prob: float
    blur_sigma: Range
    resize_up_prob: float
    resize_down_prob: float
    resize_up: Range
    resize_down: Range
    noise_prob: float
    noise_sigma: Range
    poisson_scale: Range
    jpeg_prob: float
    jpeg_quality: Range


# Where the ends of each kind of range may lie (second-pass fields share their first-pass twin's).
RANGE_LIMITS: dict[str, Range] = {
    "blur_sigma": (0.05, 10.0), "resize_up": (1.0, 4.0), "resize_down": (0.05, 1.0), "noise_sigma": (0.0, 100.0),
    "poisson_scale": (0.0, 10.0), "jpeg_quality": (1.0, 100.0), "generalized_beta": (0.1, 10.0),
    "plateau_beta": (0.1, 10.0),
}


@dataclass(frozen=True)
class RealisticDegradation:
    """Probabilities (0-1) and [low, high] ranges of the degradation model; the defaults are MEDIUM.
    Blur sigmas are in HR pixels, noise sigmas on the 0-255 scale, resize factors relative to HR (first
    pass) or to HR / scale (second pass), as in Real-ESRGAN."""

    # blur kernels, both passes: the shape family (Gaussian otherwise), anisotropy and sinc share
    generalized_prob: float = 0.1
    plateau_prob: float = 0.1
    aniso_prob: float = 0.3
    sinc_prob: float = 0.1
    generalized_beta: Range = (0.5, 4.0)
    plateau_beta: Range = (1.0, 2.0)
    # noise, both passes: Poisson (sensor shot noise) rather than Gaussian; the same noise in every channel
    poisson_prob: float = 0.4
    gray_noise_prob: float = 0.4
    # first pass
    blur_prob: float = 1.0
    blur_sigma: Range = (0.2, 2.0)
    resize_up_prob: float = 0.2
    resize_down_prob: float = 0.6
    resize_up: Range = (1.0, 1.3)
    resize_down: Range = (0.2, 1.0)
    noise_prob: float = 0.8
    noise_sigma: Range = (1.0, 15.0)
    poisson_scale: Range = (0.05, 1.5)
    jpeg_prob: float = 1.0
    jpeg_quality: Range = (40.0, 95.0)
    # second pass, taken with this probability
    second_order_prob: float = 0.5
    blur_prob2: float = 0.5
    blur_sigma2: Range = (0.2, 1.0)
    resize_up_prob2: float = 0.2
    resize_down_prob2: float = 0.3
    resize_up2: Range = (1.0, 1.2)
    resize_down2: Range = (0.5, 1.0)
    noise_prob2: float = 0.5
    noise_sigma2: Range = (1.0, 10.0)
    poisson_scale2: Range = (0.05, 1.0)
    jpeg_prob2: float = 1.0
    jpeg_quality2: Range = (40.0, 95.0)
    # the ringing filter applied with the final resize to HR / scale
    final_sinc_prob: float = 0.5

    def __post_init__(self) -> None:
        for item in dataclasses.fields(self):
            value = _typed(getattr(self, item.name))
            object.__setattr__(self, item.name, value)
            if item.name.endswith(("_prob", "_prob2")):
                if not isinstance(value, (int, float)) or not 0 <= value <= 1:
                    raise DegradationError(f"realistic.{item.name} must be a probability in [0, 1], not {value!r}")
            else:
                low, high = RANGE_LIMITS[item.name.removesuffix("2")]
                if (not isinstance(value, tuple) or len(value) != 2
                        or not all(isinstance(v, (int, float)) and low <= v <= high for v in value)
                        or value[0] > value[1]):
                    raise DegradationError(f"realistic.{item.name} must be [low, high] with {low:g} <= low <= "
                                           f"high <= {high:g}, not {list(value) if isinstance(value, tuple) else value!r}")
        for first, second in (("resize_up_prob", "resize_down_prob"), ("resize_up_prob2", "resize_down_prob2"),
                              ("generalized_prob", "plateau_prob")):
            if getattr(self, first) + getattr(self, second) > 1 + 1e-9:
                raise DegradationError(f"realistic.{first} + realistic.{second} must not exceed 1")

    def stages(self) -> tuple[Stage, Stage]:
        return (Stage(*(getattr(self, name) for name in Stage._fields)),
                Stage(*(getattr(self, name + "2") for name in Stage._fields)))

    def __str__(self) -> str:
        """A strength's name, else every parameter as JSON: what a text field shows and parses back."""
        name = strength_of(self)
        return name if name != CUSTOM else json.dumps(dataclasses.asdict(self))


LIGHT = RealisticDegradation(
    generalized_prob=0.05, plateau_prob=0.05, aniso_prob=0.2, sinc_prob=0.05, blur_prob=0.8, blur_sigma=(0.2, 1.5),
    resize_up_prob=0.2, resize_down_prob=0.5, resize_up=(1.0, 1.2), resize_down=(0.5, 1.0), noise_prob=0.5,
    noise_sigma=(1.0, 8.0), poisson_scale=(0.05, 0.8), jpeg_prob=0.8, jpeg_quality=(60.0, 95.0),
    second_order_prob=0.2, blur_prob2=0.3, blur_sigma2=(0.2, 0.8), resize_up_prob2=0.1, resize_down_prob2=0.2,
    resize_up2=(1.0, 1.1), resize_down2=(0.7, 1.0), noise_prob2=0.3, noise_sigma2=(1.0, 5.0),
    poisson_scale2=(0.05, 0.5), jpeg_prob2=0.8, jpeg_quality2=(70.0, 95.0), final_sinc_prob=0.3)
# Covers a typical web photo (blur ~1.2, x1/4, noise ~5, JPEG ~60) and harsher ones (noise 10+, JPEG 40).
MEDIUM = RealisticDegradation()
# Real-ESRGAN x4plus's own settings (options/train_realesrgan_x4plus.yml).
STRONG = RealisticDegradation(
    generalized_prob=0.15, plateau_prob=0.15, aniso_prob=0.3, sinc_prob=0.1, poisson_prob=0.5, blur_prob=1.0,
    blur_sigma=(0.2, 3.0), resize_up_prob=0.2, resize_down_prob=0.7, resize_up=(1.0, 1.5), resize_down=(0.15, 1.0),
    noise_prob=1.0, noise_sigma=(1.0, 30.0), poisson_scale=(0.05, 3.0), jpeg_prob=1.0, jpeg_quality=(30.0, 95.0),
    second_order_prob=1.0, blur_prob2=0.8, blur_sigma2=(0.2, 1.5), resize_up_prob2=0.3, resize_down_prob2=0.4,
    resize_up2=(1.0, 1.2), resize_down2=(0.3, 1.0), noise_prob2=1.0, noise_sigma2=(1.0, 25.0),
    poisson_scale2=(0.05, 2.5), jpeg_prob2=1.0, jpeg_quality2=(30.0, 95.0), final_sinc_prob=0.8)
STRENGTHS = {"light": LIGHT, "medium": MEDIUM, "strong": STRONG}
CUSTOM = "custom"  # what strength_of says of parameters that are no named strength


def strength_of(params: RealisticDegradation) -> str:
    """The named strength these parameters are, or CUSTOM: what the window's strength knob shows."""
    return next((name for name, strength in STRENGTHS.items() if strength == params), CUSTOM)


# ----------------------------------------------------------------------------- parsing
def realistic_from(value: RealisticDegradation | str | Mapping[str, Any]) -> RealisticDegradation:
    """Parameters from what a config holds: themselves, a strength name, or a dict (or its JSON text) of
    parameters, the unnamed ones MEDIUM's. Unknown names are refused, never silently ignored."""
    if isinstance(value, RealisticDegradation):
        return value
    if isinstance(value, str):
        text = value.strip()
        if text in STRENGTHS:
            return STRENGTHS[text]
        try:
            value = json.loads(text)
        except json.JSONDecodeError:
            value = None
        if not isinstance(value, dict):
            raise DegradationError(f"realistic must be {', '.join(STRENGTHS)} or a JSON object of parameters, "
                                   f"not {text!r}")
    if not isinstance(value, Mapping):
        raise DegradationError(f"realistic must be a strength name or a dict of parameters, not {value!r}")
    names = {item.name for item in dataclasses.fields(RealisticDegradation)}
    unknown = sorted(set(value) - names)
    if unknown:
        raise DegradationError(f"unknown realistic degradation parameter(s): {', '.join(map(str, unknown))}")
    return RealisticDegradation(**value)


def parse_parameter(name: str, text: str) -> Any:
    """One parameter's command-line text (`0.3`, `[1, 20]`) in its type; unvalidated, like the rest of
    `--set`, until the parameters are built."""
    names = {item.name for item in dataclasses.fields(RealisticDegradation)}
    if name not in names:
        raise DegradationError(f"unknown realistic degradation parameter {name!r}; known: {', '.join(sorted(names))}")
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        raise DegradationError(f"bad value for realistic.{name}: {text!r}") from None
    is_probability = name.endswith(("_prob", "_prob2"))
    if (is_probability and not isinstance(value, (int, float))) or (not is_probability and not isinstance(value, list)):
        raise DegradationError(f"bad value for realistic.{name}: {text!r} (expected "
                               f"{'a number' if is_probability else '[low, high]'})")
    return _typed(value)


# ----------------------------------------------------------------------------- the stages
def add_gaussian_noise(image: torch.Tensor, sigma: float, gray: bool, generator: torch.Generator) -> torch.Tensor:
    """Sensor read noise of std `sigma` (0-1 scale); `gray`: the same noise in every channel."""
    n, c, h, w = image.shape
    shape = (n, 1, h, w) if gray else image.shape
    noise = torch.randn(shape, generator=generator, device=image.device, dtype=image.dtype)
    return (image + noise * sigma).clamp(0, 1)


def add_poisson_noise(image: torch.Tensor, scale: float, gray: bool, generator: torch.Generator) -> torch.Tensor:
    """Shot noise, whose variance grows with the brightness (see PHOTONS), times `scale`; `gray`: drawn
    on the luma and added to every channel."""
    source = rgb_to_grayscale(image) if gray and image.shape[1] == 3 else image
    rate = source.clamp(0, 1) * PHOTONS
    noise = (torch.poisson(rate, generator=generator) - rate) / PHOTONS
    return (image + noise * scale).clamp(0, 1)


def jpeg(image: torch.Tensor, quality: int) -> torch.Tensor:
    """A (1, C, H, W) image saved as a JPEG of `quality` and read back. Done on the CPU whatever the
    device: libjpeg there gives the same bytes everywhere (the GPU encoder differs and is CUDA-only),
    and one small image crosses the bus in microseconds."""
    pixels = image[0].clamp(0, 1).mul(255).round().to("cpu", torch.uint8)
    with warnings.catch_warnings():  # torchvision 0.29 deprecates its codecs in favour of TorchCodec
        warnings.simplefilter("ignore", DeprecationWarning)
        decoded = decode_jpeg(encode_jpeg(pixels, quality=quality))
    return decoded[None].to(device=image.device, dtype=image.dtype).div_(255)


def resize(image: torch.Tensor, size: tuple[int, int], mode: str) -> torch.Tensor:
    """Plain (not antialiased) resampling, as cameras and most software shrink pictures: aliasing included."""
    if tuple(image.shape[-2:]) == size:
        return image
    return F.interpolate(image, size=size, mode=mode, **({} if mode == "area" else {"align_corners": False}))


def downscale(hr: torch.Tensor, scale: int, antialias: bool) -> torch.Tensor:
    """The clean degradation ("bicubic"): bicubic down by `scale`, quantised to 8 bits as a saved LR image
    would be."""
    h, w = hr.shape[-2:]
    lr = F.interpolate(hr, size=(h // scale, w // scale), mode="bicubic", antialias=antialias, align_corners=False)
    return lr.clamp_(0, 1).mul_(255).round_().div_(255)


@dataclass(frozen=True)
class WebPhoto:
    """A fixed degradation: Gaussian blur, antialiased bicubic shrink, Gaussian noise, one JPEG save."""

    blur_sigma: float
    noise_sigma: float  # 0-255 scale
    jpeg_quality: int

    def describe(self, scale: int) -> str:
        return (f"Gaussian blur sigma {self.blur_sigma:g}, antialiased bicubic x1/{scale}, Gaussian noise sigma "
                f"{self.noise_sigma:g}/255, JPEG quality {self.jpeg_quality}")

    def apply(self, image: torch.Tensor, scale: int, generator: torch.Generator) -> torch.Tensor:
        """The LR of one (1, C, H, W) [0, 1] image; the noise is drawn from `generator`."""
        radius = max(1, int(3 * self.blur_sigma + 0.5))
        blurred = filter2d(image, shaped_kernel(2 * radius + 1, self.blur_sigma, self.blur_sigma, 0.0))
        noisy = add_gaussian_noise(downscale(blurred, scale, antialias=True), self.noise_sigma / 255, False, generator)
        return jpeg(noisy, self.jpeg_quality)


# The typical web photo the benchmarks measure and a harsher one (re-compressed, dim light), both inside
# the medium strength's ranges.
WEB_PHOTOS = {"photo": WebPhoto(1.2, 5.0, 60), "heavy": WebPhoto(1.6, 10.0, 40)}


def _uniform(rng: np.random.Generator, bounds: Range) -> float:
    return float(rng.uniform(bounds[0], bounds[1]))


def _beta(rng: np.random.Generator, bounds: Range) -> float:
    """A shape exponent; when the range spans 1, half the draws fall on each side of it (as BasicSR does),
    so heavy tails and sharp shoulders are equally common whatever the range's width."""
    low, high = bounds
    if low < 1 < high:
        return _uniform(rng, (low, 1.0) if rng.random() < 0.5 else (1.0, high))
    return _uniform(rng, bounds)


def random_kernel(rng: np.random.Generator, params: RealisticDegradation, sigma: Range) -> torch.Tensor:
    """One blur kernel: sinc, or a Gaussian / generalized / plateau shape, isotropic or not."""
    size = int(rng.choice(KERNEL_SIZES))
    if rng.random() < params.sinc_prob:  # small kernels cannot hold a low cutoff's ringing
        return sinc_kernel(size, _uniform(rng, (math.pi / 3 if size < 13 else math.pi / 5, math.pi)))
    shares = (max(0.0, 1 - params.generalized_prob - params.plateau_prob), params.generalized_prob, params.plateau_prob)
    shape = KERNEL_SHAPES[rng.choice(len(KERNEL_SHAPES), p=np.array(shares) / sum(shares))]
    beta = {"gaussian": 1.0, "generalized": _beta(rng, params.generalized_beta),
            "plateau": _beta(rng, params.plateau_beta)}[shape]
    sigma_x = _uniform(rng, sigma)
    if rng.random() < params.aniso_prob:
        return shaped_kernel(size, sigma_x, _uniform(rng, sigma), _uniform(rng, (-math.pi, math.pi)), shape, beta)
    return shaped_kernel(size, sigma_x, sigma_x, 0.0, shape, beta)


def _random_resize(image: torch.Tensor, stage: Stage, base: tuple[int, int], rng: np.random.Generator) -> torch.Tensor:
    draw = rng.random()
    factor = (_uniform(rng, stage.resize_up) if draw < stage.resize_up_prob else
              _uniform(rng, stage.resize_down) if draw < stage.resize_up_prob + stage.resize_down_prob else 1.0)
    size = (max(1, int(base[0] * factor)), max(1, int(base[1] * factor)))
    return resize(image, size, RESIZE_MODES[rng.integers(len(RESIZE_MODES))])


def _random_noise(image: torch.Tensor, params: RealisticDegradation, stage: Stage,
                  rng: np.random.Generator) -> torch.Tensor:
    gray = bool(rng.random() < params.gray_noise_prob)
    generator = torch.Generator(image.device).manual_seed(int(rng.integers(2**62)))
    if rng.random() < params.poisson_prob:
        return add_poisson_noise(image, _uniform(rng, stage.poisson_scale), gray, generator)
    return add_gaussian_noise(image, _uniform(rng, stage.noise_sigma) / 255, gray, generator)


def _random_quality(rng: np.random.Generator, stage: Stage) -> int | None:
    return round(_uniform(rng, stage.jpeg_quality)) if rng.random() < stage.jpeg_prob else None


def degrade_sample(image: torch.Tensor, params: RealisticDegradation, lr_size: tuple[int, int],
                   rng: np.random.Generator) -> torch.Tensor:
    """One (1, C, H, W) image through one or two passes and the final resize; all draws from `rng`."""
    first, second = params.stages()
    stages = [first, second] if rng.random() < params.second_order_prob else [first]
    bases = [tuple(image.shape[-2:]), lr_size]  # what each pass's resize factor is relative to
    for index, stage in enumerate(stages):
        if rng.random() < stage.blur_prob:
            image = filter2d(image, random_kernel(rng, params, stage.blur_sigma))
        image = _random_resize(image, stage, bases[index], rng)
        if rng.random() < stage.noise_prob:
            image = _random_noise(image, params, stage, rng)
        quality = _random_quality(rng, stage)
        if index < len(stages) - 1 and quality is not None:
            image = jpeg(image, quality)
    mode = RESIZE_MODES[rng.integers(len(RESIZE_MODES))]
    sinc = (sinc_kernel(int(rng.choice(KERNEL_SIZES)), _uniform(rng, (math.pi / 3, math.pi)))
            if rng.random() < params.final_sinc_prob else None)
    shrink_first = rng.random() < 0.5
    if not shrink_first and quality is not None:
        image = jpeg(image, quality)
    image = resize(image, lr_size, mode)
    if sinc is not None:
        image = filter2d(image, sinc)
    if shrink_first and quality is not None:
        image = jpeg(image, quality)
    return image


def degrade(hr: torch.Tensor, params: RealisticDegradation, scale: int, generator: torch.Generator) -> torch.Tensor:
    """The realistic LR of an (N, C, H, W) [0, 1] batch on any device: (N, C, H // scale, W // scale),
    quantised to 8 bits. Each sample's parameters come from its own seed, drawn from `generator` (CPU)."""
    lr_size = (hr.shape[-2] // scale, hr.shape[-1] // scale)
    seeds = torch.randint(2**62, (hr.shape[0],), generator=generator).tolist()
    # On one intra-op thread: each op here is too small to gain from more, and on a busy CPU every
    # multi-threaded op waits for its slowest thread: with other work on this 2-core CPU, 8 x 64 px batches
    # took 513 ms (median) with torch's 2 threads and 31 ms with one, interleaved in one run; on an idle
    # CPU both took 22 ms.
    samples = on_one_cpu_thread(lambda: [degrade_sample(hr[i:i + 1], params, lr_size, np.random.default_rng(seed))
                                         for i, seed in enumerate(seeds)])
    return torch.cat(samples).clamp_(0, 1).mul_(255).round_().div_(255)
