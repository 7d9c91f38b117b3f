"""What Ctrl+V can bring: copied files (URLs), a copied path as plain text (one per line, quoted or not,
'~' or file:// URLs), or image data, which is written to a PNG first so it is queued like a file."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QUrl
from PySide6.QtGui import QClipboard

from engine.upscaling.batch import free_path
from gui.upscale.drop_zone import local_paths


def text_paths(text: str) -> list[str]:
    """The existing files and folders named in `text`, one per line."""
    paths = []
    for line in text.splitlines():
        line = line.strip().strip("'\"")
        if line.startswith("file:"):
            line = QUrl(line).toLocalFile()
        if line and Path(line).expanduser().exists():
            paths.append(str(Path(line).expanduser()))
    return paths


def clipboard_paths(clipboard: QClipboard, image_dir: Path) -> list[str]:
    """Paths to queue from the clipboard (image data is saved into `image_dir`); empty when there is none."""
    mime = clipboard.mimeData()
    if mime is None:
        return []
    paths = local_paths(mime) or (text_paths(mime.text()) if mime.hasText() else [])
    if paths:
        return paths
    image = clipboard.image()
    if image.isNull():
        return []
    target = free_path(image_dir / "pasted.png")
    return [str(target)] if image.save(str(target), "PNG") else []
