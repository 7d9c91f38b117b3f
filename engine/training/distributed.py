"""Training on several GPUs or machines with PyTorch's own launcher:

    torchrun --nproc_per_node=4 -m engine train --data DIR --out runs/NAME ...

starts one process per GPU. Each draws its own crops (batch_size is per process), DistributedDataParallel
averages the gradients, the processes agree every step on whether to stop or roll back, and rank 0 alone
validates and writes files. Without torchrun's environment this module changes nothing.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from engine.errors import ConfigError


@dataclass(frozen=True)
class ProcessGroup:
    """This process's place among the training processes (a single process: rank 0 of 1)."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def device(self, device: torch.device) -> torch.device:
        """Each process on a machine drives its own GPU."""
        if self.enabled and device.type == "cuda":
            return torch.device("cuda", self.local_rank)
        return device

    def wrap(self, module: nn.Module, device: torch.device) -> nn.Module:
        """The module whose backward pass averages gradients over the processes (itself when alone)."""
        if not self.enabled:
            return module
        return DistributedDataParallel(module, device_ids=[device.index] if device.type == "cuda" else None)

    def any(self, flag: bool, device: torch.device) -> bool:
        """True on every process when it is true on any: decisions that must not split the group."""
        if not self.enabled:
            return flag
        value = torch.tensor([float(flag)], device=device if device.type == "cuda" else "cpu")
        dist.all_reduce(value, op=dist.ReduceOp.MAX)
        return bool(value.item())


SINGLE = ProcessGroup()


def join_from_environment(device: torch.device) -> ProcessGroup:
    """Join the group torchrun describes in RANK / WORLD_SIZE / LOCAL_RANK (NCCL on CUDA, Gloo otherwise);
    SINGLE when the process was not started by torchrun."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size <= 1:
        return SINGLE
    if "RANK" not in os.environ:
        raise ConfigError(f"WORLD_SIZE is {world_size} but RANK is not set: start the processes with torchrun")
    group = ProcessGroup(int(os.environ["RANK"]), world_size, int(os.environ.get("LOCAL_RANK", "0")))
    if not dist.is_initialized():
        if device.type == "cuda":
            torch.cuda.set_device(group.local_rank)
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return group


def leave(group: ProcessGroup) -> None:
    if group.enabled and dist.is_initialized():
        dist.destroy_process_group()
