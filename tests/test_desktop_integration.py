"""The app icon and `srgan-studio-gui --install-desktop-entry`: a freedesktop launcher entry whose Exec
line a desktop parses back to the command that started the app, and the icons it names."""

from __future__ import annotations

import configparser
import sys
from pathlib import Path

import pytest
from PIL import Image

from gui import app

from gui.common import desktop_integration
from gui.common.desktop_integration import (ICON_PNG, ICON_PNG_SIZE, ICON_SVG, DesktopEntryError, app_icon, data_home,
                                     exec_quote, install_desktop_entry, launch_command)


def read_entry(path: Path) -> configparser.SectionProxy:
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str  # keys are case-sensitive
    parser.read(path, encoding="utf-8")
    return parser["Desktop Entry"]


def test_icon_is_a_square_picture_on_a_transparent_background(qapp) -> None:
    with Image.open(ICON_PNG) as icon:
        assert icon.size == (ICON_PNG_SIZE, ICON_PNG_SIZE) and icon.mode == "RGBA"
        assert icon.getpixel((0, 0))[3] == 0  # the rounded corner is transparent
        middle = ICON_PNG_SIZE // 2
        assert icon.getpixel((middle, middle))[3] == 255
        assert len(icon.convert("RGB").getcolors(ICON_PNG_SIZE ** 2)) > 100  # a drawing, not a flat square
    assert ICON_SVG.read_text(encoding="utf-8").startswith("<svg ")
    assert not app_icon().isNull()


def test_install_desktop_entry_writes_the_launcher_and_its_icons(qapp, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setattr(sys, "argv", ["/opt/my apps/bin/srgan-studio-gui"])
    assert app.main(["srgan-studio-gui", "--install-desktop-entry"]) == 0
    entry = read_entry(tmp_path / "data" / "applications" / "srgan-studio.desktop")
    assert entry["Type"] == "Application" and entry["Name"] == "SRGAN Studio"
    assert entry["Exec"] == '"/opt/my apps/bin/srgan-studio-gui"'
    assert entry["Icon"] == "srgan-studio" and entry["StartupWMClass"] == "SRGAN Studio"  # Qt's X11 window class
    icons = tmp_path / "data" / "icons" / "hicolor"
    assert (icons / "scalable" / "apps" / "srgan-studio.svg").read_bytes() == ICON_SVG.read_bytes()
    assert (icons / "512x512" / "apps" / "srgan-studio.png").read_bytes() == ICON_PNG.read_bytes()


def test_a_checkout_launcher_is_python_running_main_py(tmp_path: Path) -> None:
    assert launch_command(str(tmp_path / "main.py")) == [sys.executable, str(tmp_path / "main.py")]
    assert launch_command("/usr/local/bin/srgan-studio-gui") == ["/usr/local/bin/srgan-studio-gui"]


@pytest.mark.parametrize(("argument", "written"), [
    ("/usr/bin/srgan-studio-gui", "/usr/bin/srgan-studio-gui"),
    ("/home/a b/app", '"/home/a b/app"'),
    ('/x/"q"$`', r'"/x/\\"q\\"\\$\\`"'),  # escaped inside the quotes, then each backslash doubled
    ("/x/back\\slash", r'"/x/back\\\\slash"'),
    ("/x/100%", "/x/100%%"),
    ("", '""'),
])
def test_exec_arguments_are_quoted_as_the_desktop_entry_spec_says(argument: str, written: str) -> None:
    assert exec_quote(argument) == written


def test_data_home_follows_xdg_and_ignores_a_relative_value(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert data_home() == tmp_path / "xdg"
    monkeypatch.setenv("XDG_DATA_HOME", "relative/path")
    assert data_home() == tmp_path / ".local" / "share"
    monkeypatch.delenv("XDG_DATA_HOME")
    assert data_home() == tmp_path / ".local" / "share"


def test_an_unwritable_data_folder_is_a_one_line_error(qapp, tmp_path: Path, monkeypatch,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    blocker = tmp_path / "a file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("XDG_DATA_HOME", str(blocker))
    assert app.main(["srgan-studio-gui", "--install-desktop-entry"]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"error: cannot write the desktop entry under {blocker}") and err.count("\n") == 1


def test_macos_and_windows_get_the_icon_but_no_desktop_entry(tmp_path: Path) -> None:
    for platform in ("darwin", "win32"):
        with pytest.raises(DesktopEntryError, match="macOS and Windows"):
            install_desktop_entry(["app"], tmp_path, platform=platform)
    assert not any(tmp_path.iterdir())


def test_a_missing_bundled_icon_is_named(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(desktop_integration, "ICON_SVG", tmp_path / "gone.svg")
    with pytest.raises(DesktopEntryError, match="gone.svg is missing"):
        install_desktop_entry(["app"], tmp_path / "data", platform="linux")
