"""Reading and writing images: the app's one decoder. Every Pillow mode is reduced to grey or RGB pixels
plus an optional alpha plane, upright, and what describes the photo (ICC profile, EXIF) is carried along
for the upscaler; training, evaluation, benchmarks and scripts read the same pixels as 8-bit arrays
(`read_pixels`).

16-bit images (grey, grey + alpha, RGB, RGBA) keep their precision as float32 in [0, 1] through the
model and are written back as 16-bit PNGs. Pillow reads 16-bit colour as 8 bits, so those are decoded
twice, once for the high bytes and once for the low ones. PNGs are written by `engine.io.png`.
"""

from __future__ import annotations

import contextlib
import os
import re
import stat
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, PngImagePlugin, UnidentifiedImageError

from engine.io.atomic import atomic_path
from engine.io.jpeg import JpegStream
from engine.io.png import PngStream

ORIENTATION_TAG = 0x0112
FORMATS = {"png": "PNG", "jpg": "JPEG", "webp": "WEBP"}  # output choice -> Pillow format
QUALITY_FORMATS = ("jpg", "webp")  # the formats whose quality setting means something
EXTENSIONS = {"png": ".png", "jpg": ".jpg", "webp": ".webp"}
MAX_SIDES = {"jpg": 65535, "webp": 16383}  # what each format can store (PNG: 2^31 - 1)
_PILLOW_TO_CHOICE = {"PNG": "png", "JPEG": "jpg", "WEBP": "webp"}
# The formats read: plain raster data that Pillow decodes itself. Never EPS (Ghostscript runs the file as a
# program), nor formats that hand the file to another program or library stub (WMF, GRIB, BUFR, HDF5, MPEG).
DECODED_FORMATS = ("PNG", "JPEG", "WEBP", "GIF", "TIFF", "BMP", "DIB", "PPM", "TGA", "ICO", "PCX", "SGI", "QOI",
                   "PSD", "JPEG2000", "AVIF", "DDS", "ICNS")
# Pillow refuses a PNG whose ICC profile or text chunk decompresses to more than 1 MiB; colour profiles of
# a few MiB are legal and real (printer and camera profiles), so the limit is 16 MiB a chunk (its total for
# all text, MAX_TEXT_MEMORY, stays 64 MiB).
PngImagePlugin.MAX_TEXT_CHUNK = max(PngImagePlugin.MAX_TEXT_CHUNK, 16 << 20)
_SIXTEEN_BIT_MODES = ("I;16", "I;16L", "I;16B", "I;16N", "I")
# Raw modes of 16-bit colour that Pillow reduces to their high bytes, and the one that yields the low bytes
# instead; grey + alpha ("LA;16B", opened as RGBA) is read whole as four 8-bit channels.
_LOW_BYTES = {"RGB;16B": "RGB;16L", "RGB;16L": "RGB;16B", "RGBA;16B": "RGBA;16L", "RGBA;16L": "RGBA;16B",
              "LA;16B": "RGBA"}


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
    `warnings` says what was not carried over (e.g. the frames after the first of an animation).
    """

    pixels: np.ndarray
    mode: str
    alpha: np.ndarray | None
    icc: bytes | None
    exif: bytes | None
    size: tuple[int, int]
    format: str | None
    warnings: tuple[str, ...] = ()


def _bomb_message(pixels: int) -> str:
    return f"image too large ({pixels / 1e6:.0f} megapixels) — refused as a possible decompression bomb"


def describe_bomb(exc: Image.DecompressionBombError) -> str:
    """Pillow's refusal of a huge image, in our words."""
    found = re.search(r"\((\d+) pixels\)", str(exc))
    return _bomb_message(int(found.group(1))) if found else str(exc)


def _file_kind(mode: int) -> str:
    return "a named pipe (FIFO)" if stat.S_ISFIFO(mode) else "a socket" if stat.S_ISSOCK(mode) else \
        "a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) else "not a regular file"


def _access_error(path: Path, exc: OSError, otherwise: str) -> ImageReadError:
    """A missing or unreadable file said as such; any other OSError as `otherwise` says."""
    if isinstance(exc, FileNotFoundError):
        return ImageReadError(f"{path} does not exist")
    if isinstance(exc, PermissionError):
        return ImageReadError(f"cannot read {path}: permission denied")
    return ImageReadError(otherwise)


def check_regular(path: Path) -> None:
    """ImageReadError unless `path` is a regular file with content: a FIFO, device or socket would block
    the reader forever, so it is refused from its stat() alone, before it is opened."""
    try:
        info = os.stat(path)
    except OSError as exc:
        raise _access_error(path, exc, f"cannot read {path}: {exc.strerror or exc}") from None
    if stat.S_ISDIR(info.st_mode):
        raise ImageReadError(f"{path} is a folder, not an image")
    if not stat.S_ISREG(info.st_mode):
        raise ImageReadError(f"{path.name} is {_file_kind(info.st_mode)}, not an image file: not read")
    if info.st_size == 0:
        raise ImageReadError(f"{path.name} is empty (0 bytes)")


def open_image(path: str | Path) -> Image.Image:
    """Pillow's lazy open of a regular file, in a format of DECODED_FORMATS only (anything else is
    UnidentifiedImageError). Every reader of image files opens them here."""
    check_regular(Path(path))
    return Image.open(path, formats=DECODED_FORMATS)


def _open(path: Path, max_pixels: int) -> Image.Image:
    """Open and fully decode, turning every Pillow failure into one clear ImageReadError."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # our own limit decides below
            image = open_image(path)
        width, height = image.size
        if width * height > max_pixels:
            raise ImageReadError(_bomb_message(width * height))
        image.load()
        return image
    except ImageReadError:
        raise
    except Image.DecompressionBombError as exc:
        raise ImageReadError(describe_bomb(exc)) from None
    except UnidentifiedImageError:
        raise ImageReadError(f"{path.name} is not an image file, or in a format this app cannot open") from None
    except OSError as exc:
        raise _access_error(path, exc, f"{path.name} is damaged or truncated ({exc})") from None
    except (ValueError, SyntaxError, EOFError) as exc:
        raise ImageReadError(f"{path.name} is damaged ({exc})") from None


def _sixteen_bit_colour(path: Path, image: Image.Image) -> np.ndarray | None:
    """HxWxC float32 in [0, 1] of a 16-bit colour or grey + alpha image (None for other images).

    Decodes the file a second time with the raw mode that gives the low bytes (`image` has the high ones).
    """
    with warnings.catch_warnings(), open_image(path) as second:  # `image` is decoded: its tiles are gone
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        rawmodes = {tile[3] if isinstance(tile[3], str) else tile[3][0] for tile in second.tile}
        if len(rawmodes) != 1 or (rawmode := rawmodes.pop()) not in _LOW_BYTES:
            return None
        second.tile = [(*tile[:3], _LOW_BYTES[rawmode] if isinstance(tile[3], str) else
                        (_LOW_BYTES[rawmode], *tile[3][1:])) for tile in second.tile]
        second.load()
        if rawmode == "LA;16B":  # all four bytes at once: grey high, grey low, alpha high, alpha low
            raw = np.asarray(second).astype(np.uint16)
            words = raw[..., 0::2] << 8 | raw[..., 1::2]
        else:
            words = np.asarray(image).astype(np.uint16) << 8 | np.asarray(second)
    return words.astype(np.float32) / 65535.0


def _split_planes(image: Image.Image, deep: np.ndarray | None) -> tuple[np.ndarray, np.ndarray | None]:
    """Reduce any mode to (grey or RGB pixels HxWxC, alpha HxW or None); `deep` is the 16-bit colour
    content when there is one (see `_sixteen_bit_colour`)."""
    if deep is not None:
        has_alpha = deep.shape[2] in (2, 4)
        return deep[..., :-1] if has_alpha else deep, deep[..., -1] if has_alpha else None
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


_TRANSPOSE = {2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180, 4: Image.Transpose.FLIP_TOP_BOTTOM,
              5: Image.Transpose.TRANSPOSE, 6: Image.Transpose.ROTATE_270, 7: Image.Transpose.TRANSVERSE,
              8: Image.Transpose.ROTATE_90}


def _upright_array(image: Image.Image, pixels: np.ndarray) -> np.ndarray:
    """HxWxC float32 turned as `ImageOps.exif_transpose` turns `image`, one float plane at a time."""
    method = _TRANSPOSE.get(image.getexif().get(ORIENTATION_TAG, 1))
    if method is None:
        return pixels
    planes = [np.asarray(Image.fromarray(np.ascontiguousarray(pixels[..., c]), "F").transpose(method))
              for c in range(pixels.shape[2])]
    return np.stack(planes, axis=2)


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
    frames = getattr(image, "n_frames", 1)
    notes = (f"animated ({frames} frames): first frame only",) if frames > 1 else ()
    try:
        deep = _sixteen_bit_colour(path, image)
    except (OSError, ValueError, SyntaxError, EOFError) as exc:
        raise ImageReadError(f"{path.name} is damaged or truncated ({exc})") from None
    if deep is not None:
        deep = _upright_array(image, deep)
    upright = ImageOps.exif_transpose(image)
    pixels, alpha = _split_planes(upright, deep)
    return LoadedImage(pixels=pixels, mode=image.mode, alpha=alpha, icc=icc, exif=_exif_upright(image),
                       size=upright.size, format=fmt, warnings=notes)


def read_pixels(path: str | Path, channels: int, max_pixels: int | None = None) -> np.ndarray:
    """HxWxC uint8 with C = 3 (RGB; grey repeated) or 1 (luma, ITU-R 601 as Pillow's "L"), alpha dropped: what
    training, evaluation, the benchmarks and the scripts read. The same decoder as upscaling (`read_image`), so
    every mode, 16-bit files (rounded to 8 bits) and EXIF orientation are read alike. Raises ImageReadError."""
    pixels = quantize(read_image(path, max_pixels).pixels, np.uint8)
    if pixels.shape[2] == channels:
        return pixels
    if channels == 3:
        return np.repeat(pixels, 3, axis=2)
    return np.asarray(to_pil(pixels).convert("L"))[..., None]


def upright_size(path: str | Path) -> tuple[int, int]:
    """(width, height) as `read_image` gives the image (EXIF orientation applied), from the header alone.
    Raises ImageReadError."""
    path = Path(path)
    try:
        with warnings.catch_warnings(), open_image(path) as image:
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            width, height = image.size
            turned = image.getexif().get(ORIENTATION_TAG, 1) in (5, 6, 7, 8)
    except (OSError, ValueError, SyntaxError, EOFError, Image.DecompressionBombError) as exc:
        raise ImageReadError(f"{path.name} cannot be read ({exc.__class__.__name__})") from None
    return (height, width) if turned else (width, height)


def is_image_file(path: str | Path) -> bool:
    """Sniff the content (not the extension): is this a regular file in one of DECODED_FORMATS?"""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with open_image(path):
                return True
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError):
        return False


def has_image_extension(path: str | Path) -> bool:
    """Is the suffix one of a format this app reads (.png, .jpg, ...; not .eps)?"""
    return Image.registered_extensions().get(Path(path).suffix.lower()) in DECODED_FORMATS


def to_float(pixels: np.ndarray) -> np.ndarray:
    """uint8, uint16 or float -> contiguous float32 (integers scaled to [0, 1])."""
    if pixels.dtype in (np.uint8, np.uint16):
        return pixels.astype(np.float32) / np.iinfo(pixels.dtype).max
    return np.ascontiguousarray(pixels, dtype=np.float32)


def quantize(pixels: np.ndarray, dtype: type) -> np.ndarray:
    """uint8, uint16 or float in [0, 1] -> `dtype` (uint8 or uint16), rounded; unchanged when it is already."""
    if pixels.dtype == dtype:
        return pixels
    return (np.clip(to_float(pixels), 0.0, 1.0) * np.iinfo(dtype).max + 0.5).astype(dtype)


def to_pil(pixels: np.ndarray) -> Image.Image:
    """HxW or HxWxC (C = 1 to 4) uint8 -> a Pillow image of mode L, LA, RGB or RGBA."""
    if pixels.dtype != np.uint8:
        raise ValueError(f"expected uint8 pixels, got {pixels.dtype}")
    if pixels.ndim == 3 and pixels.shape[2] == 1:
        pixels = pixels[..., 0]
    if pixels.ndim == 3 and pixels.shape[2] not in (2, 3, 4):
        raise ValueError(f"expected 1 to 4 channels, got {pixels.shape[2]}")
    return Image.fromarray(np.ascontiguousarray(pixels))


def resize(pixels: np.ndarray, size: tuple[int, int], resample: Image.Resampling) -> np.ndarray:
    """HxWxC (C = 1 to 4; uint8, or uint16/float32 plane by plane in float) to `size` (width, height) with
    Pillow, whose filters widen when shrinking (antialiased, as MATLAB's imresize does)."""
    if pixels.dtype == np.uint8:
        resized = np.asarray(to_pil(pixels).resize(size, resample))
        return resized[..., None] if resized.ndim == 2 else resized
    planes = [np.asarray(Image.fromarray(to_float(pixels[..., c]), "F").resize(size, resample))
              for c in range(pixels.shape[2])]
    resized = np.stack(planes, axis=2)
    return resized if pixels.dtype.kind == "f" else quantize(resized, pixels.dtype)


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


def _prepare_output(path: Path, overwrite: bool) -> None:
    """Refuse an existing file unless `overwrite`; create the folder."""
    if path.exists() and not overwrite:
        raise ImageWriteError(f"{path} already exists (use overwrite to replace it)")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise ImageWriteError(f"cannot create the output folder {path.parent}: a file is in the way") from None
    except OSError as exc:
        raise ImageWriteError(f"cannot create the output folder {path.parent}: {exc.strerror}") from None


@contextlib.contextmanager
def _atomic_output(path: Path, overwrite: bool) -> Iterator[Path]:
    """engine.io.atomic's temporary path, its failures turned into one-line ImageWriteErrors."""
    try:
        with atomic_path(path, overwrite=overwrite) as tmp:
            yield tmp
    except FileExistsError:
        raise ImageWriteError(f"{path} already exists (use overwrite to replace it)") from None
    except OSError as exc:
        raise ImageWriteError(f"cannot write {path}: {exc.strerror or exc}") from None


@contextlib.contextmanager
def png_rows(path: str | Path, width: int, height: int, channels: int, dtype: type, icc: bytes | None = None,
             exif: bytes | None = None, overwrite: bool = False) -> Iterator[Callable[[np.ndarray], None]]:
    """Write a PNG band of rows by band of rows, top to bottom, through the function this yields; the
    file appears (atomically) only when the block ends normally with every row written."""
    path = Path(path)
    _prepare_output(path, overwrite)
    with _atomic_output(path, overwrite) as tmp, tmp.open("wb") as file, \
            PngStream(file, width, height, channels, dtype, icc, exif) as stream:
        yield stream.write_rows


@contextlib.contextmanager
def jpeg_rows(path: str | Path, width: int, height: int, channels: int, quality: int = 95, icc: bytes | None = None,
              exif: bytes | None = None, overwrite: bool = False) -> Iterator[Callable[[np.ndarray], None]]:
    """Write a JPEG (grey or RGB; uint8, uint16 or float rows) band of rows by band of rows, top to bottom,
    through the function this yields (engine.io.jpeg); atomic as png_rows."""
    path = Path(path)
    check_output_size("jpg", width, height)
    _prepare_output(path, overwrite)
    with _atomic_output(path, overwrite) as tmp, tmp.open("wb") as file, \
            JpegStream(file, width, height, channels, quality, icc, exif) as stream:
        yield lambda rows: stream.write_rows(quantize(rows, np.uint8))


def check_output_size(choice: str, width: int, height: int) -> None:
    """ImageWriteError when `choice` cannot store a width x height image (JPEG: 65535 a side, WebP 16383)."""
    most = MAX_SIDES.get(choice)
    if most is not None and max(width, height) > most:
        raise ImageWriteError(f"a {FORMATS[choice]} image can be at most {most} pixels wide and high, and this "
                              f"result would be {width}x{height}: choose png, or a smaller size")


def save_image(pixels: np.ndarray, path: str | Path, format: str | None = None, quality: int = 95,
               icc: bytes | None = None, exif: bytes | None = None, overwrite: bool = False) -> Path:
    """Write HxWxC (C = 1 to 4) pixels atomically, creating the folder; an existing file is kept unless
    `overwrite`. uint16 pixels make a 16-bit PNG; JPEG and WebP are 8-bit (JPEG flattens alpha onto white)."""
    path = Path(path)
    choice = output_format(path, format)
    pixels = pixels[..., None] if pixels.ndim == 2 else pixels
    if choice == "png":
        pixels = pixels if pixels.dtype == np.uint16 else quantize(pixels, np.uint8)
        with png_rows(path, pixels.shape[1], pixels.shape[0], pixels.shape[2], pixels.dtype.type, icc, exif,
                      overwrite) as write:
            write(pixels)
        return path
    if choice == "jpg":
        if pixels.shape[2] in (2, 4):
            pixels = np.asarray(_flatten_alpha(to_pil(quantize(pixels, np.uint8))))
        with jpeg_rows(path, pixels.shape[1], pixels.shape[0], 1 if pixels.ndim == 2 else pixels.shape[2],
                       quality, icc, exif, overwrite) as write:
            write(pixels)
        return path
    check_output_size(choice, pixels.shape[1], pixels.shape[0])
    _prepare_output(path, overwrite)
    image = to_pil(quantize(pixels, np.uint8))
    image = image.convert("RGBA") if image.mode == "LA" else image
    params: dict[str, object] = {"format": FORMATS[choice], "quality": quality}
    if icc:
        params["icc_profile"] = icc
    if exif:
        params["exif"] = exif
    with _atomic_output(path, overwrite) as tmp:
        image.save(tmp, **params)
    return path
