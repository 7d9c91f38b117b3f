"""A run folder is the run: relocatable, never confused with another, safe against damaged, hostile
and half-written files."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
import torch

from engine.errors import CheckpointError
from engine.training.checkpoint import load_checkpoint
from engine.models.export import load_generator
from engine.cli.main import main
from engine.training.config import TrainConfig
from engine.io.atomic import TEMP_PREFIX
from engine.training.run_folder import CHECKPOINT, SAMPLES, RunBusyError, RunFolder, config_to_resume
from engine.training.trainer import Trainer
from tests.conftest import TINY_SETTINGS

TINY = [f"{key}={value}" for key, value in {**TINY_SETTINGS, "perceptual_weight": 0}.items()]


def train(*argv: str) -> int:
    return main(["train", *argv, "--set", *TINY])


@pytest.fixture
def finished_run(image_folder: Path, tmp_path: Path) -> Path:
    out = tmp_path / "runs" / "orig"
    assert train("--data", str(image_folder), "--out", str(out), "--steps", "2") == 0
    return out


def fingerprint(folder: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in folder.iterdir() if path.is_file()}


def test_resuming_a_copy_never_touches_the_original(finished_run: Path, tmp_path: Path) -> None:
    copy = tmp_path / "runs" / "copy"
    shutil.copytree(finished_run, copy)
    before = fingerprint(finished_run)
    assert train("--out", str(copy), "--resume", "--steps", "4") == 0
    assert fingerprint(finished_run) == before
    assert load_checkpoint(copy / CHECKPOINT)["progress"]["step"] == 4


def test_a_moved_run_resumes_where_it_is_now_from_any_directory(finished_run: Path, tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    moved = tmp_path / "elsewhere" / "moved"
    moved.parent.mkdir()
    finished_run.rename(moved)
    monkeypatch.chdir(tmp_path / "elsewhere")
    assert train("--out", "moved", "--resume", "--steps", "3") == 0  # relative to where the command runs
    assert load_checkpoint(moved / CHECKPOINT)["progress"]["step"] == 3
    assert not finished_run.exists()


def test_moved_images_are_named_and_can_be_given_again(finished_run: Path, image_folder: Path, tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    moved = tmp_path / "photos-moved"
    image_folder.rename(moved)
    assert train("--out", str(finished_run), "--resume", "--steps", "3") == 2
    assert str(image_folder) in capsys.readouterr().err
    assert train("--out", str(finished_run), "--resume", "--steps", "3", "--data", str(moved)) == 0
    assert config_to_resume(finished_run).data_dir == str(moved.resolve())


class Hostile:
    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (os.system, ("touch hacked",))


@pytest.mark.parametrize("kind", ["one byte", "random", "text", "hostile", "empty", "a dict of other things",
                                  "flipped byte"])
def test_a_bad_checkpoint_is_one_line_and_exit_2(finished_run: Path, tmp_path: Path, kind: str,
                                                 capsys: pytest.CaptureFixture[str],
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    path = finished_run / CHECKPOINT
    if kind == "flipped byte":
        data = bytearray(path.read_bytes())
        middle = len(data) // 2
        data[middle] ^= 0xFF
        path.write_bytes(bytes(data))
    else:
        content = {"one byte": b"\x80", "random": os.urandom(4096), "text": b"step=4\nconfig=...\n", "empty": b""}
        path.unlink()
        if kind == "hostile":
            torch.save({"generator_spec": Hostile()}, path)
        elif kind == "a dict of other things":
            torch.save({"generator_spec": {"arch": "compact"}, "hello": 1}, path)
        else:
            path.write_bytes(content[kind])
    monkeypatch.chdir(tmp_path)
    assert train("--out", str(finished_run), "--resume", "--steps", "4") == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and "Traceback" not in err
    assert CHECKPOINT in err and "weights_only" not in err
    assert not (tmp_path / "hacked").exists()


def test_a_flipped_byte_inside_the_tensors_fails_the_checksum(finished_run: Path) -> None:
    state = load_checkpoint(finished_run / CHECKPOINT)
    first = next(iter(state["gan"]["generator"].values()))
    first.view(-1)[0] += 1e-3
    torch.save(state, finished_run / "tampered.pt")  # the checksum stays the old one
    with pytest.raises(CheckpointError, match="damaged: its content does not match its checksum"):
        load_checkpoint(finished_run / "tampered.pt")


def test_stale_temporary_files_of_a_killed_run_are_removed(finished_run: Path) -> None:
    (finished_run / SAMPLES).mkdir(exist_ok=True)
    stale = [finished_run / f"{TEMP_PREFIX}0badc0de-abc123.tmp", finished_run / SAMPLES / f"{TEMP_PREFIX}1-q.tmp"]
    for path in stale:
        path.write_bytes(b"half written")
    keep = [finished_run / name for name in ("notes.txt", ".notes.tmp", ".tmpXYZ12", ".checkpoint.pt.abc123.tmp")]
    for path in keep:
        path.write_text("mine")
    assert train("--out", str(finished_run), "--resume", "--steps", "3") == 0
    assert not any(path.exists() for path in stale) and all(path.read_text() == "mine" for path in keep)


def test_a_symlinked_samples_folder_is_not_cleaned(finished_run: Path, tmp_path: Path) -> None:
    """The samples folder linked to a folder of the user's: nothing in it is removed, ours-looking or not."""
    photos = tmp_path / "photos"
    photos.mkdir()
    theirs = [photos / name for name in (".a.tmp", ".tmp1", f"{TEMP_PREFIX}x.tmp")]
    for path in theirs:
        path.write_text("mine")
    shutil.rmtree(finished_run / SAMPLES, ignore_errors=True)
    (finished_run / SAMPLES).symlink_to(photos)
    RunFolder(finished_run).remove_stale_temps()
    assert all(path.read_text() == "mine" for path in theirs)


def test_best_export_left_behind_by_a_crash_is_rederived(finished_run: Path) -> None:
    best = RunFolder(finished_run).best
    best.unlink()
    trainer = Trainer(config_to_resume(finished_run, steps=2), resume=True)  # nothing to train; startup repairs
    list(trainer.run())
    assert best.is_file()


@pytest.mark.parametrize("damage", ["truncated", "garbage"])
def test_a_damaged_best_export_is_rebuilt_from_the_checkpoint(finished_run: Path, damage: str,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    best = RunFolder(finished_run).best
    whole = best.read_bytes()
    best.write_bytes(whole[:len(whole) // 2] if damage == "truncated" else b"\x00" * 64)
    assert train("--out", str(finished_run), "--resume", "--steps", "3") == 0
    assert "warning [best-export-rebuilt]: best.safetensors: not a readable" in capsys.readouterr().err
    assert 1 <= load_generator(best)[1]["steps"] <= 3  # whole again, and the weights of a validated step


def test_a_failed_start_leaves_no_folder_behind(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "empty").mkdir()
    assert train("--data", str(tmp_path / "empty"), "--out", str(tmp_path / "run")) == 2
    assert not (tmp_path / "run").exists()


def test_config_to_resume_is_the_one_rule(finished_run: Path) -> None:
    stored = config_to_resume(finished_run)
    assert stored.out_dir == str(finished_run) and stored.steps == 2
    longer = config_to_resume(finished_run, steps=10)
    assert longer.steps == 10 and longer.pretrain_steps == stored.pretrain_steps
    shorter = config_to_resume(finished_run, steps=1)
    assert shorter.pretrain_steps <= 1
    assert isinstance(stored, TrainConfig)


def test_a_lock_that_is_a_link_is_refused_and_its_target_left_alone(image_folder: Path, tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_bytes(b"the user's own file\n")
    out = tmp_path / "runs" / "linked"
    out.mkdir(parents=True)
    (out / ".lock").symlink_to(notes)
    assert train("--data", str(image_folder), "--out", str(out), "--steps", "1") == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and ".lock is not a plain file" in error
    assert notes.read_bytes() == b"the user's own file\n"
    assert (out / ".lock").is_symlink() and not (out / CHECKPOINT).exists()


def test_the_lock_refuses_a_second_holder_and_a_folder_made_for_it_alone_goes_again(tmp_path: Path) -> None:
    folder = RunFolder(tmp_path / "fresh")
    with folder.locked():
        with pytest.raises(RunBusyError, match="another process is training"):
            with folder.locked():
                pass
        assert (folder.root / ".lock").is_file()
    assert not folder.root.exists()
