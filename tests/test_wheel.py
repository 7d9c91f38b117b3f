"""The built wheel is the app: installed alone into an empty folder (no source tree on the path), its
command line upscales with the bundled default model, its window opens on the bundled sample set,
and its launcher installs a desktop entry. Built and installed once for the module (a few seconds);
each check then runs the installed entry points from an unrelated folder."""

from __future__ import annotations

import configparser
import json
import os
import subprocess
import sys
import tarfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest
from PIL import Image

from engine.resources import PACKAGE_NAME, SOURCE_FOLDER
from engine.models.sources import PHOTO_FAST_MODEL

REPO = Path(__file__).resolve().parents[1]
pytestmark = [pytest.mark.packaging,
              pytest.mark.skipif(os.name != "posix", reason="checks the POSIX layout of console scripts")]


@dataclass(frozen=True)
class Installed:
    wheel: Path
    sdist: Path
    target: Path  # `pip install --target`: the only place the app's code and resources come from
    home: Path  # HOME and XDG folders of the installed app's processes, so nothing touches the real ones
    elsewhere: Path  # the working folder: neither the repository nor the install

    def env(self) -> dict[str, str]:
        env = {key: value for key, value in os.environ.items() if not key.startswith(("PYTHON", "XDG_"))}
        env.update(PYTHONPATH=str(self.target), PYTHONNOUSERSITE="1", HOME=str(self.home),
                   XDG_CONFIG_HOME=str(self.home / "config"), XDG_DATA_HOME=str(self.home / "data"),
                   QT_QPA_PLATFORM="offscreen", OMP_NUM_THREADS="1")
        return env

    def run(self, *command: str | Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(part) for part in command], cwd=self.elsewhere, env=self.env(),
                              capture_output=True, text=True, timeout=240)


def _checked(command: list[str | Path]) -> None:
    result = subprocess.run([str(part) for part in command], capture_output=True, text=True, timeout=240)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    """`python -m build` (sdist, then the wheel from the sdist, as a release is made), then the wheel
    alone, without dependencies, into an empty target: the environment's torch and Qt serve it."""
    dist = tmp_path_factory.mktemp("dist")
    _checked([sys.executable, "-m", "build", "--no-isolation", "--outdir", dist, REPO])
    (wheel,), (sdist,) = dist.glob("*.whl"), dist.glob("*.tar.gz")
    target = tmp_path_factory.mktemp("target")
    _checked([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-compile", "--target", target,
              wheel])
    return Installed(wheel, sdist, target, tmp_path_factory.mktemp("home"), tmp_path_factory.mktemp("elsewhere"))


def repo_files(folder: str, pattern: str = "*") -> set[str]:
    root = REPO / folder
    return {path.relative_to(root).as_posix() for path in root.rglob(pattern)
            if path.is_file() and "__pycache__" not in path.parts and not path.name.startswith(".")}


def test_wheel_and_sdist_carry_the_code_every_resource_and_the_licences(installed: Installed) -> None:
    with zipfile.ZipFile(installed.wheel) as wheel:
        names = set(wheel.namelist())
        metadata = wheel.read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
    resources = repo_files(SOURCE_FOLDER)
    assert {"models/default-x4.safetensors", "LICENSES.md", "icons/srgan-studio.png"} <= resources
    assert {n.split("/", 1)[1] for n in names if n.startswith(f"{PACKAGE_NAME}/")} == resources
    for package in ("engine", "gui"):
        assert {f"{package}/{name}" for name in repo_files(package, "*.py")} <= names
    assert {n.split("/")[0] for n in names if ".dist-info/" not in n} == {"engine", "gui", PACKAGE_NAME}
    assert "License-Expression: MIT" in metadata.splitlines()
    assert {n.split(".dist-info/licenses/")[1] for n in names if ".dist-info/licenses/" in n} == {
        "LICENSE", f"{SOURCE_FOLDER}/LICENSES.md"}
    with tarfile.open(installed.sdist) as sdist:
        sdist_names = {name.split("/", 1)[1] for name in sdist.getnames() if "/" in name}
    assert {f"{SOURCE_FOLDER}/{name}" for name in resources} <= sdist_names


def test_installed_cli_upscales_with_the_bundled_default_model(installed: Installed) -> None:
    Image.new("RGB", (40, 28), (200, 120, 40)).save(installed.elsewhere / "photo.png")
    result = installed.run(installed.target / "bin" / "srgan-studio", "upscale", "photo.png", "--out", "big",
                           "--device", "cpu")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "model: default-x4 (x4) in ncnn on the CPU" in result.stderr  # the auto rule, installed
    with Image.open(installed.elsewhere / "big" / "photo_x4.png") as output:
        assert output.size == (160, 112)


# Runs the installed launcher's main() and reports what its window shows once the event loop runs.
WINDOW_PROBE = """
import json, sys
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication
import engine, gui.app
from engine.resources import RESOURCES_DIR
from gui.main_window import MainWindow

app = QApplication(["srgan-studio-gui"])

def report():
    window = next(w for w in app.topLevelWidgets() if isinstance(w, MainWindow))
    picker = window.upscale.model
    print(json.dumps({
        "code": [engine.__file__, gui.app.__file__], "resources": str(RESOURCES_DIR),
        "samples": window.train.data_dir.text(), "visible": window.isVisible(),
        "icon": not app.windowIcon().isNull(), "desktop_file": app.desktopFileName(),
        "models": {picker.itemText(i): picker.itemData(i)[0] for i in range(picker.count())
                   if isinstance(picker.itemData(i), tuple)},
        "default_model": picker.currentText()}))
    window.close()
    app.quit()

QTimer.singleShot(0, report)
sys.exit(gui.app.main(["srgan-studio-gui"]))
"""


def test_installed_window_opens_on_the_bundled_samples_and_models(installed: Installed) -> None:
    result = installed.run(sys.executable, "-c", WINDOW_PROBE)
    assert result.returncode == 0, result.stderr[-3000:]
    shown = json.loads(result.stdout.strip().splitlines()[-1])
    installed_resources = installed.target / PACKAGE_NAME
    assert all(Path(path).is_relative_to(installed.target) for path in shown["code"]), shown["code"]
    assert Path(shown["resources"]) == installed_resources
    assert Path(shown["samples"]) == installed_resources / "samples"
    assert len(list(Path(shown["samples"]).glob("*.jpg"))) == len(repo_files(f"{SOURCE_FOLDER}/samples", "*.jpg"))
    assert shown["visible"] and shown["icon"] and shown["desktop_file"] == "srgan-studio"
    assert shown["default_model"] == "Photos (fast)"
    assert shown["models"]["Photos (fast)"] == str(installed_resources / "models" / f"{PHOTO_FAST_MODEL}.safetensors")
    assert shown["models"]["Bundled: default-x4"] == str(installed_resources / "models" / "default-x4.safetensors")


def test_installed_launcher_writes_a_desktop_entry_that_starts_it(installed: Installed) -> None:
    launcher = installed.target / "bin" / "srgan-studio-gui"
    result = installed.run(launcher, "--install-desktop-entry")
    assert result.returncode == 0, result.stderr[-3000:]
    data = installed.home / "data"
    entry = configparser.ConfigParser(interpolation=None)
    entry.optionxform = str  # keys are case-sensitive
    entry.read(data / "applications" / "srgan-studio.desktop", encoding="utf-8")
    assert entry["Desktop Entry"]["Exec"] == str(launcher)
    assert entry["Desktop Entry"]["Icon"] == "srgan-studio"
    for installed_icon in ("scalable/apps/srgan-studio.svg", "512x512/apps/srgan-studio.png"):
        copied = data / "icons" / "hicolor" / installed_icon
        assert copied.read_bytes() == (installed.target / PACKAGE_NAME / "icons" / copied.name).read_bytes()
