"""engine/resources.py finds the bundled files beside the running code: the installed package in a
site-packages (or --target) folder, the top-level resources/ in a checkout or an editable install."""

from __future__ import annotations

from pathlib import Path

from engine.resources import PACKAGE_NAME, RESOURCES_DIR, SOURCE_FOLDER, find_resources_dir, resource_path

REPO = Path(__file__).resolve().parents[1]


def test_an_installed_package_wins_over_a_foreign_resources_folder(tmp_path: Path) -> None:
    (tmp_path / PACKAGE_NAME).mkdir()
    (tmp_path / SOURCE_FOLDER).mkdir()  # e.g. another distribution's top-level `resources` package
    assert find_resources_dir(tmp_path) == tmp_path / PACKAGE_NAME


def test_a_checkout_uses_its_top_level_folder(tmp_path: Path) -> None:
    (tmp_path / SOURCE_FOLDER).mkdir()
    assert find_resources_dir(tmp_path) == tmp_path / SOURCE_FOLDER


def test_this_checkout_reads_its_own_files() -> None:
    assert RESOURCES_DIR == REPO / SOURCE_FOLDER
    assert resource_path("models", "default-x4.safetensors").is_file()
