"""Atomic writes: a failed write leaves the old file and no debris; an existing file is never clobbered
unless asked; finished files get ordinary permissions."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from engine.atomic import atomic_write


def test_write_replaces_the_target_in_one_step(tmp_path: Path) -> None:
    target = tmp_path / "out.txt"
    target.write_text("old")
    atomic_write(target, lambda tmp: tmp.write_text("new"))
    assert target.read_text() == "new"
    assert os.listdir(tmp_path) == ["out.txt"]


def test_failed_write_keeps_the_old_file_and_leaves_no_temp(tmp_path: Path) -> None:
    target = tmp_path / "out.txt"
    target.write_text("old")

    def half_write(tmp: Path) -> None:
        tmp.write_text("half")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        atomic_write(target, half_write)
    assert target.read_text() == "old"
    assert os.listdir(tmp_path) == ["out.txt"]


def test_no_overwrite_refuses_an_existing_file(tmp_path: Path) -> None:
    target = tmp_path / "out.txt"
    target.write_text("precious")
    with pytest.raises(FileExistsError):
        atomic_write(target, lambda tmp: tmp.write_text("new"), overwrite=False)
    assert target.read_text() == "precious"
    atomic_write(tmp_path / "fresh.txt", lambda tmp: tmp.write_text("new"), overwrite=False)
    assert (tmp_path / "fresh.txt").read_text() == "new"
    assert sorted(os.listdir(tmp_path)) == ["fresh.txt", "out.txt"]


def test_finished_file_gets_umask_permissions(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        path = atomic_write(tmp_path / "image.png", lambda tmp: tmp.write_bytes(b"x"))
    finally:
        os.umask(old)
    assert path.stat().st_mode & 0o777 == 0o644
