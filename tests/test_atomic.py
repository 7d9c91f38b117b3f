"""Atomic writes: a failed write leaves the old file and no debris; an existing file is never clobbered
unless asked; finished files get ordinary permissions."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from engine.archs.networks import CompactGenerator
from engine.io.atomic import TEMP_PREFIX, _temp_prefix, atomic_write, remove_temps
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
    target = tmp_path / "out.png"
    prefix = _temp_prefix(target)
    killed = tmp_path / f"{prefix}k1ll3d.tmp"
    killed.write_bytes(b"half an image")
    other = tmp_path / f"{_temp_prefix(tmp_path / 'other.png')}k1ll3d.tmp"
    other.write_bytes(b"another file's")
    live = tmp_path / f"{prefix}l1v3.tmp"
    live.write_bytes(b"being written")
    past = time.time() - 60
    for path in (killed, other):
        os.utime(path, (past, past))
    os.utime(live, (time.time() + 60, time.time() + 60))  # touched while this write runs
    atomic_write(target, lambda tmp: tmp.write_bytes(b"whole"))
    assert sorted(os.listdir(tmp_path)) == sorted([other.name, live.name, "out.png"])


def test_clean_up_removes_only_files_this_app_made(tmp_path: Path) -> None:
    """A user's own temporary-looking files, and whatever a link named like ours points to, are kept."""
    mine = [".out.png.k1ll3d.tmp", ".tmpXYZ12", ".notes.tmp", "srgan-a.tmp"]
    for name in mine:
        (tmp_path / name).write_text("the user's")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "photo.jpg").write_text("keep")
    (tmp_path / f"{TEMP_PREFIX}link.tmp").symlink_to(elsewhere / "photo.jpg")
    (tmp_path / f"{TEMP_PREFIX}dir.tmp").mkdir()
    ours = tmp_path / f"{TEMP_PREFIX}0badc0de-x1.tmp"
    ours.write_bytes(b"half")
    assert remove_temps(tmp_path) == [ours]
    assert all((tmp_path / name).read_text() == "the user's" for name in mine)
    assert (elsewhere / "photo.jpg").read_text() == "keep" and (tmp_path / f"{TEMP_PREFIX}link.tmp").is_symlink()


def test_a_legal_name_of_250_characters_is_written(tmp_path: Path) -> None:
    """The temporary name stays short whatever the target's length (a file name may have 255 bytes)."""
    target = tmp_path / ("a" * 246 + ".png")
    atomic_write(target, lambda tmp: tmp.write_bytes(b"x"))
    assert target.read_bytes() == b"x"
