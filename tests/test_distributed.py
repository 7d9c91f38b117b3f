"""Training under torchrun: two real processes on the CPU (Gloo), as on several GPUs but smaller."""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch import nn

from engine import events as ev
from engine.cli.main import main
from engine.training.config import preset
from engine.training.distributed import SINGLE, ProcessGroup, join_from_environment
from engine.models.export import load_generator
from engine.training.trainer import Trainer
from tests.conftest import TINY_SETTINGS

ROOT = Path(__file__).resolve().parents[1]


def state_digest(module: nn.Module) -> str:
    digest = hashlib.sha256()
    for name, tensor in sorted(module.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


def train_as_rank(rank: int, world_size: int, init_file: str, data: str, out: str, results: str) -> None:
    """One of two processes. Rank 1 alone sees a NaN loss at its third generator step and alone asks to
    stop after step 4: both decisions must be taken by the whole group."""
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=world_size)
    try:
        config = preset("default", data_dir=data, out_dir=out, steps=10, pretrain_steps=2,
                        **{**TINY_SETTINGS, "perceptual_weight": 0.0})
        trainer = Trainer(config, group=ProcessGroup(rank, world_size, rank))
        if rank == 1:
            calls, pixel_loss = itertools.count(), trainer.gan.pixel_loss
            trainer.gan.pixel_loss = lambda sr, hr: pixel_loss(sr, hr) * (float("nan") if next(calls) == 2 else 1.0)
        kinds, first_losses = [], None
        for event in trainer.run():
            kinds.append(type(event).__name__)
            if isinstance(event, ev.StepMetrics):
                first_losses = first_losses or event.losses
                if rank == 1 and event.step == 4:
                    trainer.request_stop()
            if isinstance(event, ev.Finished):
                finished = {"step": event.step, "reason": event.reason}
        record: dict[str, Any] = {
            "kinds": kinds, "first_losses": first_losses, "finished": finished,
            "generator": state_digest(trainer.gan.generator), "ema": state_digest(trainer.gan.ema.module),
            "discriminator": state_digest(trainer.gan.discriminator),
        }
        Path(results, f"{rank}.json").write_text(json.dumps(record))
    finally:
        dist.destroy_process_group()


def test_a_single_process_is_left_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    assert join_from_environment(torch.device("cpu")) is SINGLE
    module = nn.Linear(2, 2)
    assert SINGLE.wrap(module, torch.device("cpu")) is module
    assert (SINGLE.any(True, torch.device("cpu")), SINGLE.any(False, torch.device("cpu"))) == (True, False)
    assert ProcessGroup(3, 4, 1).device(torch.device("cuda")) == torch.device("cuda", 1)
    assert ProcessGroup(3, 4, 1).device(torch.device("cpu")) == torch.device("cpu")


def test_a_half_set_environment_is_a_clear_error(image_folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.delenv("RANK", raising=False)
    code = main(["train", "--data", str(image_folder), "--out", str(tmp_path / "run"), "--steps", "2",
                 "--set", *(f"{key}={value}" for key, value in TINY_SETTINGS.items())])
    assert code == 2
    assert "RANK is not set: start the processes with torchrun" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


def test_two_processes_stay_in_step(image_folder: Path, tmp_path: Path) -> None:
    results = tmp_path / "results"
    results.mkdir()
    out = tmp_path / "run"
    mp.spawn(train_as_rank, args=(2, str(tmp_path / "rendezvous"), str(image_folder), str(out), str(results)),
             nprocs=2, join=True)
    main, other = (json.loads((results / f"{rank}.json").read_text()) for rank in (0, 1))
    # Gradients are averaged, so the weights (and their EMA) are the same in both processes...
    for part in ("generator", "ema", "discriminator"):
        assert main[part] == other[part], part
    # ...although each trained on its own crops.
    assert main["first_losses"] != other["first_losses"]
    # Rank 1's NaN rolled both back; rank 1's stop stopped both at the same step.
    assert main["kinds"].count("Rollback") == other["kinds"].count("Rollback") == 1
    assert main["finished"] == other["finished"] == {"step": 4, "reason": "stopped"}
    # Only rank 0 validates and writes; what it wrote is the shared EMA model.
    assert "Validation" in main["kinds"] and "CheckpointSaved" in main["kinds"]
    assert "Validation" not in other["kinds"] and "CheckpointSaved" not in other["kinds"]
    exported, meta = load_generator(out / "generator.safetensors")
    assert meta["steps"] == 4 and state_digest(exported) == main["ema"]


def test_torchrun_launches_the_command_line_trainer(image_folder: Path, tmp_path: Path) -> None:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "TORCH_HOME": str(tmp_path / "torch-home")}
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
               "-m", "engine", "train", "--data", str(image_folder), "--out", str(tmp_path / "run"), "--steps", "4",
               "--set", *(f"{key}={value}" for key, value in TINY_SETTINGS.items()), "pretrain_steps=2"]
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=240, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stderr.count("completed: step 4 of 4") == 1  # rank 0 reports, rank 1 does not
    assert "warning [" not in result.stderr  # the bundled VGG: perceptual loss on, no warning
    _, meta = load_generator(tmp_path / "run" / "generator.safetensors")
    assert meta["steps"] == 4
