"""JPEG written a band of rows at a time, so a huge result is never held whole (Pillow encodes JPEG only
from a whole image, in its own 4-bytes-a-pixel copy: 2.7 GB at the peak for a 4000x4000 photo x4).

How: every band of BAND_ROWS rows (whole MCU rows) is encoded by Pillow as a JPEG of its own, with the
same quality, subsampling and standard Huffman tables, and one restart interval covering the band. A
restart marker resets the decoder's DC predictions and starts on a byte, exactly as a new scan does, so
the bands' entropy-coded data, joined by RST0..RST7 markers under the first band's headers (its height
set to the whole image's), is one valid baseline JPEG, decoded pixel for pixel as Pillow's whole-image
encoding of the same rows is (tests/test_jpeg.py).
"""

from __future__ import annotations

import io
from typing import BinaryIO

import numpy as np
from PIL import Image

MAX_SIDE = 65535  # JPEG stores width and height in 16 bits
BAND_ROWS = 128  # a multiple of every MCU height (8 grey, 16 colour at 4:2:0)
_SOF0, _SOS, _EOI = 0xC0, 0xDA, b"\xff\xd9"
_MAX_INTERVAL = 65535  # the DRI segment's 16-bit count of MCUs


class JpegStream:
    """A baseline JPEG (4:2:0 colour, or grey) written a band of rows at a time, top to bottom; use it as a
    context manager (leaving it normally finishes the file, an exception abandons it)."""

    def __init__(self, file: BinaryIO, width: int, height: int, channels: int, quality: int = 95,
                 icc: bytes | None = None, exif: bytes | None = None) -> None:
        if channels not in (1, 3) or not (1 <= width <= MAX_SIDE and 1 <= height <= MAX_SIDE):
            raise ValueError(f"cannot write a {width}x{height} JPEG of {channels} channels")
        self._file, self._width, self._height, self._channels = file, width, height, channels
        mcu = 8 if channels == 1 else 16
        mcus_per_row = -(-width // mcu)
        self._mcu_rows = max(1, min(BAND_ROWS // mcu, _MAX_INTERVAL // mcus_per_row))
        self._band_rows = self._mcu_rows * mcu
        self._params: dict[str, object] = {"quality": quality, "restart_marker_rows": self._mcu_rows}
        if channels == 3:
            self._params["subsampling"] = 2  # 4:2:0, Pillow's default, fixed so every band's MCU is 16 rows
        self._first_params = {**self._params, **({"icc_profile": icc} if icc else {}),
                              **({"exif": exif} if exif else {})}
        self._pending: list[np.ndarray] = []
        self._pending_rows = 0
        self._bands = 0
        self._rows_left = height

    def write_rows(self, rows: np.ndarray) -> None:
        """The next rows: hxWxC (or hxW) uint8."""
        rows = rows.reshape(rows.shape[0], self._width, -1)
        if rows.shape[2] != self._channels or rows.dtype != np.uint8:
            raise ValueError(f"rows of {rows.dtype} {rows.shape} do not fit this JPEG")
        if rows.shape[0] > self._rows_left:
            raise ValueError("more rows than the JPEG's height")
        self._rows_left -= rows.shape[0]
        self._pending.append(rows)
        self._pending_rows += rows.shape[0]
        while self._pending_rows >= self._band_rows:
            self._encode_band(self._band_rows)
        if not self._rows_left and self._pending_rows:
            self._encode_band(self._pending_rows)

    def _encode_band(self, count: int) -> None:
        joined = np.concatenate(self._pending, axis=0) if len(self._pending) > 1 else self._pending[0]
        band, rest = joined[:count], joined[count:]
        self._pending, self._pending_rows = ([rest], len(rest)) if len(rest) else ([], 0)
        encoded = io.BytesIO()
        Image.fromarray(np.ascontiguousarray(band[..., 0] if self._channels == 1 else band)).save(
            encoded, "JPEG", **(self._first_params if self._bands == 0 else self._params))
        data = encoded.getvalue()
        scan_start = _scan_start(data)
        if self._bands == 0:
            self._file.write(_with_height(data[:scan_start], self._height))
        else:
            self._file.write(bytes((0xFF, 0xD0 + (self._bands - 1) % 8)))
        self._file.write(data[scan_start:-2])
        self._bands += 1

    def __enter__(self) -> JpegStream:
        return self

    def __exit__(self, kind: type[BaseException] | None, *rest: object) -> None:
        if kind is None:
            if self._rows_left:
                raise ValueError(f"the JPEG is {self._rows_left} rows short")
            self._file.write(_EOI)


def _segments(data: bytes) -> list[tuple[int, int, int]]:
    """(marker, start, end) of each segment before the entropy-coded data, the scan header (SOS) last."""
    found, at = [], 2  # after SOI
    while True:
        if data[at] != 0xFF:
            raise ValueError("unexpected JPEG layout from the encoder")
        marker, length = data[at + 1], int.from_bytes(data[at + 2:at + 4], "big")
        found.append((marker, at, at + 2 + length))
        if marker == _SOS:
            return found
        at += 2 + length


def _scan_start(data: bytes) -> int:
    """Where the entropy-coded data of a one-scan, one-interval JPEG starts (it ends 2 bytes before the end)."""
    if not data.endswith(_EOI):
        raise ValueError("unexpected JPEG layout from the encoder")
    return _segments(data)[-1][2]


def _with_height(header: bytes, height: int) -> bytes:
    """The headers of the first band with the frame's height set to the whole image's."""
    patched = bytearray(header)
    for marker, start, _ in _segments(header):
        if marker == _SOF0:
            patched[start + 5:start + 7] = height.to_bytes(2, "big")
            return bytes(patched)
    raise ValueError("unexpected JPEG layout from the encoder: no baseline frame header")
