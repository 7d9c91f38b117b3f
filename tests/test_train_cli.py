"""`python -m engine train/eval` end to end on tiny images, including bad input and Ctrl-C."""

from __future__ import annotations

import argparse
import os
import signal
import sys
from dataclasses import replace
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch

from engine import events as ev
from engine.training.checkpoint import load_checkpoint
from engine.cli.main import main
from engine.training.config import SETTINGS, TrainConfig, setting_help
from engine.data.degradations import LIGHT
from engine.scoring.evaluation import ImageScore, load_upscaler, mean_score, score_folder
from engine.models.export import load_generator
from engine.cli.train import build_config, format_row
from engine.training.trainer import Trainer

TINY = ["hr_patch=32", "batch_size=2", "gen_features=8", "gen_blocks=2", "disc_features=8", "val_count=2",
        "val_every=2", "checkpoint_every=2", "device=cpu", "init_generator="]


def train(data: Path, out: Path, *extra: str, preset: str = "default") -> int:
    return main(["train", "--data", str(data), "--preset", preset, "--out", str(out), *extra, "--set", *TINY])


@pytest.mark.parametrize("preset", ["default", "classic"])
def test_three_step_smoke_train(image_folder: Path, tmp_path: Path, preset: str,
                                capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / preset
    assert train(image_folder, out, "--steps", "3", preset=preset) == 0
    model, meta = load_generator(out / "generator.safetensors")
    assert meta["steps"] == 3 and meta["config"]["preset"] == preset
    assert load_checkpoint(out / "checkpoint.pt")["progress"]["step"] == 3
    channels, value_range = (1, [-1.0, 1.0]) if preset == "classic" else (3, [0.0, 1.0])
    assert meta["value_range"] == value_range
    assert model(torch.rand(1, channels, 8, 8)).shape == (1, channels, 32, 32)
    last_line = capsys.readouterr().err.strip().splitlines()[-1]
    assert last_line.startswith("completed") and str(out / "generator.safetensors") in last_line


def test_realistic_degradation_from_the_command_line(image_folder: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    assert train(image_folder, out, "--steps", "2", "--set", "degradation=realistic", "realistic=light",
                 "realistic.noise_sigma=[2,6]") == 0
    stored = TrainConfig.from_dict(load_checkpoint(out / "checkpoint.pt")["config"])
    assert stored.degradation == "realistic" and stored.realistic == replace(LIGHT, noise_sigma=(2.0, 6.0))
    assert load_generator(out / "generator.safetensors")[1]["config"]["realistic"]["noise_sigma"] == [2.0, 6.0]


def test_resume_trains_longer(image_folder: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    assert train(image_folder, out, "--steps", "2") == 0
    assert train(image_folder, out, "--steps", "2") == 2  # an existing run is never overwritten
    assert main(["train", "--out", str(out), "--resume", "--steps", "4"]) == 0
    state = load_checkpoint(out / "checkpoint.pt")
    assert state["progress"]["step"] == 4 and state["config"]["gen_features"] == 8  # the stored settings won


def test_resume_refuses_settings_other_than_the_runs(image_folder: Path, tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "run"
    assert train(image_folder, out, "--steps", "2") == 0
    capsys.readouterr()
    for extra, message in ((["--scale", "2"], "it has scale=4 (asked: 2)"),
                           (["--preset", "classic"], "preset='default' (asked: 'classic')"),
                           (["--set", "lr_g=0.5", "gen_features=16"], "lr_g=0.0001 (asked: 0.5), gen_features=8")):
        assert main(["train", "--out", str(out), "--resume", "--steps", "3", *extra]) == 2
        err = capsys.readouterr().err
        assert err.startswith("error: --resume continues the run with its own settings") and message in err
        assert err.count("\n") == 1
    assert load_checkpoint(out / "checkpoint.pt")["progress"]["step"] == 2
    assert main(["train", "--out", str(out), "--resume", "--steps", "3", "--scale", "4", "--set", *TINY]) == 0


def test_steps_keep_the_default_presets_pretraining_share() -> None:
    def config(*argv: str) -> Any:
        parser = argparse.ArgumentParser()
        from engine.cli.train import configure_train

        configure_train(parser)
        return build_config(parser.parse_args(["--data", "d", "--out", "o", *argv]))

    scratch = config("--preset", "scratch", "--steps", "100")
    assert (scratch.steps, scratch.pretrain_steps) == (100, 50)
    assert config("--steps", "100").pretrain_steps == 0  # the default run is a GAN from step 1
    assert config("--preset", "scratch", "--steps", "100", "--set", "pretrain_steps=10").pretrain_steps == 10
    # --set is applied together with --steps, so a share above the preset's own step count is fine
    long_pixel_run = config("--steps", "8000", "--set", "pretrain_steps=8000")
    assert (long_pixel_run.steps, long_pixel_run.pretrain_steps) == (8000, 8000)
    assert config("--preset", "classic", "--steps", "100").pretrain_steps == 0
    assert config("--scale", "2").scale == 2


@pytest.mark.parametrize(("argv_tail", "message"), [
    (["--data", "{images}", "--set", "batch_size=lots"], "bad value for batch_size"),
    (["--data", "{images}", "--set", "nonsense=1"], "nonsense=1"),
    (["--data", "{images}", "--set", "realistic.noise_prob=2"], "realistic.noise_prob must be a probability"),
    ([], "--data is required"),
    (["--resume"], "no checkpoint at"),
])
def test_bad_settings_exit_with_one_line(image_folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                         argv_tail: list[str], message: str) -> None:
    argv_tail = [arg.format(images=image_folder) for arg in argv_tail]
    code = main(["train", "--out", str(tmp_path / "x"), *argv_tail])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("error: ") and message in err and err.count("\n") == 1


@pytest.mark.parametrize("where", ["the training folder", "a folder inside it"])
def test_validating_on_training_images_warns(image_folder: Path, tmp_path: Path, where: str,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    val_dir = image_folder
    if where == "a folder inside it":
        val_dir = image_folder / "val"
        val_dir.mkdir()
        for path in sorted(image_folder.glob("*"))[:2]:
            path.rename(val_dir / path.name)
    assert train(image_folder, tmp_path / "run", "--steps", "1", "--set", f"val_dir={val_dir}") == 0
    count = len([p for p in val_dir.iterdir() if p.is_file()])
    assert (f"warning [validation-is-training-data]: {count} of the validation images in {val_dir} are training "
            "images too" in capsys.readouterr().err)


def test_a_separate_validation_folder_does_not_warn(image_folder: Path, tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    val_dir = tmp_path / "val"
    val_dir.mkdir()
    for path in sorted(image_folder.glob("*"))[:2]:
        path.rename(val_dir / path.name)
    assert train(image_folder, tmp_path / "run", "--steps", "1", "--set", f"val_dir={val_dir}") == 0
    assert "validation-is-training-data" not in capsys.readouterr().err


def test_networks_too_large_for_memory_are_a_one_line_error(image_folder: Path, tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    def no_memory(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("[enforce fail at alloc_cpu.cpp:127] DefaultCPUAllocator: can't allocate memory")

    monkeypatch.setattr("engine.training.trainer.GANStep", no_memory)
    assert train(image_folder, tmp_path / "run", "--steps", "1") == 2
    err = capsys.readouterr().err
    assert err.startswith("error: not enough memory for the networks (compact generator, gen_features=8")
    assert err.count("\n") == 1


def test_more_workers_than_cores_are_capped_with_a_warning(image_folder: Path, tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    assert train(image_folder, tmp_path / "run", "--steps", "1", "--set", "workers=1000") == 0
    cores = os.cpu_count() or 1
    assert f"warning [workers-capped]: workers=1000 is more than this machine's {cores} cores: using {cores}" in \
        capsys.readouterr().err


def test_empty_folder_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "empty").mkdir()
    assert train(tmp_path / "empty", tmp_path / "run") == 2
    assert f"error: no readable images in {tmp_path / 'empty'}" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("name", ["SIGINT", "SIGTERM", "SIGHUP"])
def test_ctrl_c_kill_and_hang_up_stop_cleanly(image_folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                              name: str) -> None:
    """A checkpoint and an export however the run is told to stop; the exit status is the shell's 128 + N."""
    if not hasattr(signal, name):
        pytest.skip(f"no {name} here")
    signum = getattr(signal, name)
    original_run = Trainer.run

    def interrupted_run(self: Trainer) -> Iterator[Any]:
        for event in original_run(self):
            yield event
            if isinstance(event, ev.StepMetrics) and event.step == 1:
                signal.raise_signal(signum)

    monkeypatch.setattr(Trainer, "run", interrupted_run)
    out = tmp_path / "run"
    handler = signal.getsignal(signum)
    assert train(image_folder, out, "--steps", "50") == 128 + signum
    assert load_checkpoint(out / "checkpoint.pt")["progress"]["step"] == 1
    assert (out / "generator.safetensors").is_file()
    assert signal.getsignal(signum) == handler


def test_eval_reports_model_and_bicubic(image_folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "run"
    assert train(image_folder, out, "--steps", "1") == 0
    capsys.readouterr()
    for model in (out / "generator.safetensors", out / "checkpoint.pt"):
        assert main(["eval", "--model", str(model), "--data", str(image_folder)]) == 0
        lines = capsys.readouterr().out.strip().splitlines()
        assert lines[0].startswith("HR: whole images") and len(lines) == 2 + 5 + 1
        assert lines[-1].startswith("mean of 5")
        psnr, ssim, bicubic_psnr, bicubic_ssim = map(float, lines[-1].split()[-4:])
        assert 0 < ssim <= 1 and 0 < bicubic_ssim <= 1 and bicubic_psnr > 20 and psnr > 0
    assert main(["eval", "--model", str(out / "generator.safetensors"), "--data", str(image_folder),
                 "--scale", "2"]) == 2
    assert "does not match" in capsys.readouterr().err
    assert main(["eval", "--model", str(out / "generator.safetensors"), "--data", str(image_folder),
                 "--max-side", "8"]) == 2
    assert "--max-side must be at least" in capsys.readouterr().err


def test_eval_crops_score_the_same_as_the_shared_protocol(image_folder: Path, tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "run"
    assert train(image_folder, out, "--steps", "1") == 0
    capsys.readouterr()
    assert main(["eval", "--model", str(out / "generator.safetensors"), "--data", str(image_folder),
                 "--max-side", "32"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert "crops of at most 32x32" in lines[0]
    upscaler = load_upscaler(out / "generator.safetensors")
    expected = mean_score([s for s in score_folder(upscaler.upscale, upscaler.model.scale, image_folder,
                                                         max_side=32)
                           if isinstance(s, ImageScore)])
    assert lines[-1] == format_row(expected)


def test_help_describes_every_setting_as_the_window_does(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    text = " ".join(capsys.readouterr().out.split())  # as wrapped lines joined again
    for name in SETTINGS:
        assert f"{name} (default " in text and setting_help(name) in text, name
    assert "adversarial_loss (default relativistic): The GAN's loss. One of: bce, lsgan" in text


@pytest.mark.skipif(sys.platform in ("win32", "darwin"), reason="file names there are always valid Unicode")
def test_paths_that_are_not_valid_utf8(image_folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Data folder, run folder and image names with bytes that are not UTF-8 (Python's \\udcXX): training
    exports, eval prints the names (escaped), nothing raises."""
    data = tmp_path / os.fsdecode(b"photos\xff")
    image_folder.rename(data)
    (data / "image_00.png").rename(data / os.fsdecode(b"caf\xe9.png"))
    out = tmp_path / os.fsdecode(b"run\xfe")
    assert train(data, out, "--steps", "1") == 0
    assert load_generator(out / "generator.safetensors")[1]["data"] == "photos\\udcff"
    assert main(["eval", "--model", str(out / "generator.safetensors"), "--data", str(data)]) == 0
    captured = capsys.readouterr()
    assert "caf\\udce9.png" in captured.out and "Traceback" not in captured.err
