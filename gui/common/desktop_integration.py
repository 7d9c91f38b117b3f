"""How the app presents itself to the desktop: its icon on the window, taskbar and Dock, and a
freedesktop launcher entry (`srgan-studio-gui --install-desktop-entry`) for Linux and BSD menus.

A pip/pipx install cannot add menu entries itself (wheels install no files outside the environment),
so the launcher writes its own entry once, pointing at the command that started it.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

from PySide6.QtGui import QIcon

from engine.io.atomic import atomic_write
from engine.resources import resource_path

APP_ID = "srgan-studio"  # the .desktop file's name, the icon's theme name and Wayland's app id
APP_NAME = "SRGAN Studio"
ICON_SVG = resource_path("icons", f"{APP_ID}.svg")
ICON_PNG = resource_path("icons", f"{APP_ID}.png")
ICON_PNG_SIZE = 512
FREEDESKTOP_PLATFORMS = ("linux", "freebsd", "openbsd", "netbsd", "dragonfly")
EXEC_RESERVED = frozenset(' \t\n"\'\\><~|&;$*?#()`')


class DesktopEntryError(RuntimeError):
    """The entry cannot be installed here; the one-line message says why."""


def app_icon() -> QIcon:
    """The window/taskbar icon; the PNG needs no SVG image plugin."""
    return QIcon(str(ICON_PNG))


def set_windows_app_id() -> None:
    """Windows groups a window under the executable's taskbar icon (python.exe's) unless the process
    names its own AppUserModelID; with one, the taskbar shows the window's icon."""
    if sys.platform == "win32":
        import ctypes

        ctypes.windll.shell32.SetCurrentProcessExplicitAppUserModelID(APP_ID)


def data_home() -> Path:
    """$XDG_DATA_HOME, or ~/.local/share when it is unset or not absolute (as the spec says)."""
    configured = os.environ.get("XDG_DATA_HOME", "")
    return Path(configured) if os.path.isabs(configured) else Path.home() / ".local" / "share"


def launch_command(argv0: str | None = None) -> list[str]:
    """The command that started this process, absolute: the installed `srgan-studio-gui` launcher
    (a pip, pipx or venv script), or `python main.py` from a checkout."""
    started = Path(sys.argv[0] if argv0 is None else argv0).absolute()
    if started.suffix == ".py":
        return [sys.executable, str(started)]
    return [str(started)]


def exec_quote(argument: str) -> str:
    """One Exec argument as the Desktop Entry spec wants it: double-quoted when it holds a reserved
    character (with " ` $ \\ escaped inside), then string-escaped (\\ doubled) and % doubled."""
    if not argument or any(c in argument for c in EXEC_RESERVED):
        argument = '"' + "".join("\\" + c if c in '"`$\\' else c for c in argument) + '"'
    return argument.replace("\\", "\\\\").replace("%", "%%")


def desktop_entry_text(command: list[str]) -> str:
    exec_line = " ".join(exec_quote(part) for part in command)
    return "\n".join([
        "[Desktop Entry]",
        "Type=Application",
        f"Name={APP_NAME}",
        "GenericName=Image Upscaler",
        "Comment=Train a super-resolution GAN and upscale pictures with it",
        f"Exec={exec_line}",
        f"Icon={APP_ID}",
        "Terminal=false",
        "Categories=Graphics;2DGraphics;RasterGraphics;",
        "Keywords=upscale;super-resolution;enlarge;SRGAN;ESRGAN;",
        "StartupNotify=true",
        f"StartupWMClass={APP_NAME}",  # Qt's X11 window class is the application name
        "",
    ])


def install_desktop_entry(command: list[str] | None = None, data_dir: Path | None = None,
                          platform: str = sys.platform) -> list[Path]:
    """Write the launcher's .desktop file and its icons under the XDG data folder; returns the files."""
    if not platform.startswith(FREEDESKTOP_PLATFORMS):
        raise DesktopEntryError("desktop entries are for Linux/BSD desktops; on macOS and Windows the app's "
                                "window, Dock and taskbar carry its icon without one")
    for icon in (ICON_SVG, ICON_PNG):
        if not icon.is_file():
            raise DesktopEntryError(f"the bundled icon {icon} is missing; reinstall the package")
    base = data_dir or data_home()
    targets = {
        base / "icons" / "hicolor" / "scalable" / "apps" / ICON_SVG.name: ICON_SVG,
        base / "icons" / "hicolor" / f"{ICON_PNG_SIZE}x{ICON_PNG_SIZE}" / "apps" / ICON_PNG.name: ICON_PNG,
    }
    entry = base / "applications" / f"{APP_ID}.desktop"
    try:
        for target, source in targets.items():
            target.parent.mkdir(parents=True, exist_ok=True)
            atomic_write(target, lambda tmp, source=source: shutil.copyfile(source, tmp))
        entry.parent.mkdir(parents=True, exist_ok=True)
        text = desktop_entry_text(command or launch_command())
        atomic_write(entry, lambda tmp: tmp.write_text(text, encoding="utf-8"))
    except OSError as exc:
        raise DesktopEntryError(f"cannot write the desktop entry under {base}: {exc.strerror or exc}") from None
    return [entry, *targets]
