"""Reading and writing images for the upscaler: every Pillow mode is reduced to grey or RGB pixels
plus an optional alpha plane, and what describes the photo (ICC profile, EXIF) is carried along.

16-bit greyscale keeps its precision as float32 in [0, 1] through the model; outputs are 8-bit.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from engine.atomic import atomic_write

ORIENTATION_TAG = 0x0112
FORMATS = {"png": "PNG", "jpg": "JPEG", "webp": "WEBP"}  # output choice -> Pillow format
EXTENSIONS = {"png": ".png", "jpg": ".jpg", "webp": ".webp"}
_PILLOW_TO_CHOICE = {"PNG": "png", "JPEG": "jpg", "WEBP": "webp"}
_SIXTEEN_BIT_MODES = ("I;16", "I;16L", "I;16B", "I;16N", "I")


class ImageReadError(ValueError):
    """The file cannot be read as an image; the message says why in one line."""


class ImageWriteError(ValueError):
    """The output cannot be written; the message says why. Nothing existing was touched."""


@dataclass
class LoadedImage:
    """An image as the upscaler needs it.

    `pixels` is HxWxC with C = 1 (grey) or 3 (RGB): uint8, or float32 in [0, 1] for 16-bit input.
    `alpha` is HxW of the same dtype, or None. `mode` is the file's original Pillow mode, `size`
    is (width, height) after EXIF rotation, `format` the choice name ("png", "jpg", "webp") or None.
    """

    pixels: np.ndarray
    mode: str
    alpha: np.ndarray | None
    icc: bytes | None
    exif: bytes | None
    size: tuple[int, int]
    format: str | None


def _bomb_message(pixels: int) -> str:
    return f"image too large ({pixels / 1e6:.0f} megapixels) — refused as a possible decompression bomb"


def _open(path: Path, max_pixels: int) -> Image.Image:
    """Open and fully decode, turning every Pillow failure into one clear ImageReadError."""
    if path.is_dir():
        raise ImageReadError(f"{path} is a folder, not an image")
    if path.is_file() and path.stat().st_size == 0:
        raise ImageReadError(f"{path.name} is empty (0 bytes)")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # our own limit decides below
            image = Image.open(path)
        width, height = image.size
        if width * height > max_pixels:
            raise ImageReadError(_bomb_message(width * height))
        image.load()
        return image
    except ImageReadError:
        raise
    except Image.DecompressionBombError as exc:
        found = re.search(r"\((\d+) pixels\)", str(exc))
        raise ImageReadError(_bomb_message(int(found.group(1))) if found else str(exc)) from None
    except UnidentifiedImageError:
        raise ImageReadError(f"{path.name} is not an image file, or in a format this app cannot open") from None
    except FileNotFoundError:
        raise ImageReadError(f"{path} does not exist") from None
    except PermissionError:
        raise ImageReadError(f"cannot read {path}: permission denied") from None
    except OSError as exc:
        raise ImageReadError(f"{path.name} is damaged or truncated ({exc})") from None
    except (ValueError, SyntaxError, EOFError) as exc:
        raise ImageReadError(f"{path.name} is damaged ({exc})") from None


def _split_planes(image: Image.Image) -> tuple[np.ndarray, np.ndarray | None]:
    """Reduce any mode to (grey or RGB pixels HxWxC, alpha HxW or None)."""
    mode = image.mode
    if mode in _SIXTEEN_BIT_MODES:
        grey = np.asarray(image, dtype=np.float32) / 65535.0
        return np.clip(grey, 0.0, 1.0)[..., None], None
    if mode == "F":
        return np.clip(np.asarray(image, dtype=np.float32), 0.0, 1.0)[..., None], None
    if mode == "P":
        image = image.convert("RGBA" if "transparency" in image.info else "RGB")
    elif mode == "PA":
        image = image.convert("RGBA")
    elif mode == "1":
        image = image.convert("L")
    elif mode not in ("L", "LA", "RGB", "RGBA"):
        image = image.convert("RGBA" if "A" in mode.upper() else "RGB")  # CMYK, YCbCr, LAB, HSV, RGBa, ...
    array = np.asarray(image)
    if array.ndim == 2:
        return array[..., None], None
    if image.mode in ("LA", "RGBA"):
        return np.ascontiguousarray(array[..., :-1]), np.ascontiguousarray(array[..., -1])
    return array, None


def _exif_upright(image: Image.Image) -> bytes | None:
    """The file's EXIF with its orientation set to 1 (upright): the pixels are rotated already, so
    viewers must not rotate them again."""
    exif = image.getexif()
    if not len(exif):
        return None
    if ORIENTATION_TAG in exif:
        exif[ORIENTATION_TAG] = 1
    return exif.tobytes()


def read_image(path: str | Path, max_pixels: int | None = None) -> LoadedImage:
    """Read any image Pillow knows, upright (EXIF orientation applied).

    `max_pixels` bounds the pixel count (None = Pillow's MAX_IMAGE_PIXELS), refusing decompression bombs;
    Pillow itself still refuses anything above twice its own MAX_IMAGE_PIXELS.
    """
    path = Path(path)
    limit = max_pixels if max_pixels is not None else (Image.MAX_IMAGE_PIXELS or 2**63)
    image = _open(path, limit)
    fmt = _PILLOW_TO_CHOICE.get(image.format or "")
    icc = image.info.get("icc_profile") or None
    upright = ImageOps.exif_transpose(image)
    pixels, alpha = _split_planes(upright)
    return LoadedImage(pixels=pixels, mode=image.mode, alpha=alpha, icc=icc, exif=_exif_upright(image),
                       size=upright.size, format=fmt)


def is_image_file(path: str | Path) -> bool:
    """Sniff the content (not the extension): does Pillow recognise this file's header?"""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path):
                return True
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError):
        return False


def has_image_extension(path: str | Path) -> bool:
    return Path(path).suffix.lower() in Image.registered_extensions()


def to_pil(pixels: np.ndarray) -> Image.Image:
    """HxW or HxWxC (C in 1, 3, 4) uint8 -> a Pillow image of mode L, RGB or RGBA."""
    if pixels.dtype != np.uint8:
        raise ValueError(f"expected uint8 pixels, got {pixels.dtype}")
    if pixels.ndim == 3 and pixels.shape[2] == 1:
        pixels = pixels[..., 0]
    if pixels.ndim == 3 and pixels.shape[2] not in (3, 4):
        raise ValueError(f"expected 1, 3 or 4 channels, got {pixels.shape[2]}")
    return Image.fromarray(np.ascontiguousarray(pixels))


def resize(pixels: np.ndarray, size: tuple[int, int], resample: Image.Resampling) -> np.ndarray:
    """HxWxC uint8 (C = 1, 3 or 4) to `size` (width, height) with Pillow, whose filters widen when
    shrinking (antialiased, as MATLAB's imresize does)."""
    resized = np.asarray(to_pil(pixels).resize(size, resample))
    return resized[..., None] if resized.ndim == 2 else resized


def _flatten_alpha(image: Image.Image) -> Image.Image:
    """JPEG has no alpha: composite onto white rather than letting transparent areas turn black."""
    if image.mode not in ("RGBA", "LA"):
        return image
    background = Image.new("RGBA", image.size, (255, 255, 255, 255))
    flat = Image.alpha_composite(background, image.convert("RGBA")).convert("RGB")
    return flat.convert("L") if image.mode == "LA" else flat


def output_format(path: Path, format: str | None) -> str:
    """The output choice ("png", "jpg", "webp"): explicit, else from the suffix."""
    if format is None:
        format = {".jpeg": "jpg", ".jpg": "jpg", ".png": "png", ".webp": "webp"}.get(path.suffix.lower())
    if format not in FORMATS:
        raise ImageWriteError(f"cannot tell the output format of {path.name}; use png, jpg or webp")
    return format


def save_image(pixels: np.ndarray, path: str | Path, format: str | None = None, quality: int = 95,
               icc: bytes | None = None, exif: bytes | None = None, overwrite: bool = False) -> Path:
    """Write uint8 pixels atomically, creating the folder; an existing file is kept unless `overwrite`."""
    path = Path(path)
    choice = output_format(path, format)
    if path.exists() and not overwrite:
        raise ImageWriteError(f"{path} already exists (use overwrite to replace it)")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise ImageWriteError(f"cannot create the output folder {path.parent}: a file is in the way") from None
    except OSError as exc:
        raise ImageWriteError(f"cannot create the output folder {path.parent}: {exc.strerror}") from None
    image = to_pil(pixels)
    if choice == "jpg":
        image = _flatten_alpha(image)
    params: dict[str, object] = {"format": FORMATS[choice]}
    if choice in ("jpg", "webp"):
        params["quality"] = quality
    if icc:
        params["icc_profile"] = icc
    if exif:
        params["exif"] = exif
    try:
        return atomic_write(path, lambda tmp: image.save(tmp, **params), overwrite=overwrite)
    except FileExistsError:
        raise ImageWriteError(f"{path} already exists (use overwrite to replace it)") from None
    except OSError as exc:
        raise ImageWriteError(f"cannot write {path}: {exc.strerror or exc}") from None
