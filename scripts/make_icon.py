"""Draw the app icon: resources/icons/srgan-studio.svg, and the PNG rendered from it.

The picture is what the app does: a sun whose left half is coarse pixels (the low-resolution input)
and whose right half is smooth (the upscaled output), split by the compare view's wipe handle.
The pixel blocks are computed here, so the SVG stays plain shapes any renderer draws alike.

    python scripts/make_icon.py
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from PySide6.QtCore import QByteArray, Qt  # noqa: E402
from PySide6.QtGui import QImage, QPainter  # noqa: E402
from PySide6.QtSvg import QSvgRenderer  # noqa: E402

from engine.io.atomic import atomic_write  # noqa: E402
from gui.common.desktop_integration import ICON_PNG, ICON_PNG_SIZE, ICON_SVG  # noqa: E402

SIZE = 512
CENTRE, RADIUS = 256, 152
CELL = 38  # four coarse pixels across the left half of the sun
BACKGROUND = ("#4c8dff", "#1b2f7a")  # the app's highlight blue, darkening to the bottom right
SUN = ((255, 214, 102), (255, 112, 67))  # top and bottom of the sun's vertical gradient


def sun_colour(y: float) -> str:
    """The sun's gradient at height y, so each coarse pixel is the average a downscale would give."""
    t = min(1.0, max(0.0, (y - (CENTRE - RADIUS)) / (2 * RADIUS)))
    r, g, b = (round(top + (bottom - top) * t) for top, bottom in zip(*SUN))
    return f"#{r:02x}{g:02x}{b:02x}"


def coarse_half() -> list[str]:
    """Blocks of the left half whose centre lies inside the sun, aligned to the wipe line."""
    blocks = []
    columns = -(-RADIUS // CELL)
    for row in range(-columns, columns):
        for column in range(-columns, 0):
            x, y = CENTRE + column * CELL, CENTRE + row * CELL
            cx, cy = x + CELL / 2, y + CELL / 2
            if (cx - CENTRE) ** 2 + (cy - CENTRE) ** 2 <= RADIUS ** 2:
                blocks.append(f'<rect x="{x}" y="{y}" width="{CELL}" height="{CELL}" fill="{sun_colour(cy)}"/>')
    return blocks


def icon_svg() -> str:
    top, bottom = (f"#{r:02x}{g:02x}{b:02x}" for r, g, b in SUN)
    smooth_half = (f'<path d="M {CENTRE} {CENTRE - RADIUS} A {RADIUS} {RADIUS} 0 0 1 {CENTRE} {CENTRE + RADIUS} Z" '
                   'fill="url(#sun)"/>')
    handle = [
        f'<rect x="{CENTRE - 6}" y="76" width="12" height="360" rx="6" fill="#ffffff"/>',
        f'<circle cx="{CENTRE}" cy="{CENTRE}" r="38" fill="#ffffff"/>',
        f'<path d="M {CENTRE - 8} {CENTRE - 14} L {CENTRE - 24} {CENTRE} L {CENTRE - 8} {CENTRE + 14} Z" '
        f'fill="{BACKGROUND[1]}"/>',
        f'<path d="M {CENTRE + 8} {CENTRE - 14} L {CENTRE + 24} {CENTRE} L {CENTRE + 8} {CENTRE + 14} Z" '
        f'fill="{BACKGROUND[1]}"/>',
    ]
    return "\n".join([
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{SIZE}" height="{SIZE}" viewBox="0 0 {SIZE} {SIZE}">',
        "<defs>",
        f'<linearGradient id="bg" x1="0" y1="0" x2="1" y2="1"><stop offset="0" stop-color="{BACKGROUND[0]}"/>'
        f'<stop offset="1" stop-color="{BACKGROUND[1]}"/></linearGradient>',
        f'<linearGradient id="sun" x1="0" y1="0" x2="0" y2="1"><stop offset="0" stop-color="{top}"/>'
        f'<stop offset="1" stop-color="{bottom}"/></linearGradient>',
        "</defs>",
        f'<rect x="16" y="16" width="{SIZE - 32}" height="{SIZE - 32}" rx="104" fill="url(#bg)"/>',
        *coarse_half(),
        smooth_half,
        *handle,
        "</svg>",
        "",
    ])


def render_png(svg: str, size: int) -> QImage:
    renderer = QSvgRenderer(QByteArray(svg.encode()))
    image = QImage(size, size, QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    renderer.render(painter)
    painter.end()
    return image


def save_png(image: QImage, path: Path) -> None:
    if not image.save(str(path), "PNG"):
        raise OSError(f"cannot write {path}")


def main() -> int:
    svg = icon_svg()
    ICON_SVG.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(ICON_SVG, lambda tmp: tmp.write_text(svg, encoding="utf-8"))
    image = render_png(svg, ICON_PNG_SIZE)
    atomic_write(ICON_PNG, lambda tmp: save_png(image, tmp))
    print(f"wrote {ICON_SVG} and {ICON_PNG} ({ICON_PNG_SIZE}x{ICON_PNG_SIZE})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
