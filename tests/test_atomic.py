"""Atomic writes: a failed write leaves the old file and no debris; an existing file is never clobbered
unless asked; finished files get ordinary permissions."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from engine.archs.networks import CompactGenerator
from engine.io.atomic import atomic_write
from engine.models.export import export_generator


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


def test_a_writer_that_replaces_the_temp_file_still_gives_umask_permissions(tmp_path: Path) -> None:
    """safetensors' save_file writes its own temporary file and renames it over ours, mode 0600."""
    def replace_it(tmp: Path) -> None:
        private = tmp.with_name("private")
        fd = os.open(private, os.O_WRONLY | os.O_CREAT, 0o600)
        os.close(fd)
        os.replace(private, tmp)

    old = os.umask(0o022)
    try:
        path = atomic_write(tmp_path / "model.bin", replace_it)
    finally:
        os.umask(old)
    assert path.stat().st_mode & 0o777 == 0o644


def test_exported_generator_gets_umask_permissions(tmp_path: Path) -> None:
    net = CompactGenerator(3, num_feat=4, num_conv=1, scale=2)
    old = os.umask(0o027)
    try:
        path = export_generator(tmp_path / "g.safetensors", net.state_dict(), net.spec(), (0.0, 1.0))
    finally:
        os.umask(old)
    assert path.stat().st_mode & 0o777 == 0o640


def test_a_write_removes_what_a_killed_write_of_the_same_file_left(tmp_path: Path) -> None:
    killed = tmp_path / ".out.png.k1ll3d.tmp"
    killed.write_bytes(b"half an image")
    other = tmp_path / ".other.png.k1ll3d.tmp"
    other.write_bytes(b"another file's")
    live = tmp_path / ".out.png.l1v3.tmp"
    live.write_bytes(b"being written")
    past = time.time() - 60
    for path in (killed, other):
        os.utime(path, (past, past))
    os.utime(live, (time.time() + 60, time.time() + 60))  # touched while this write runs
    atomic_write(tmp_path / "out.png", lambda tmp: tmp.write_bytes(b"whole"))
    assert sorted(os.listdir(tmp_path)) == [".other.png.k1ll3d.tmp", ".out.png.l1v3.tmp", "out.png"]
