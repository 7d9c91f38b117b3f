"""Torch's intra-op thread count survives training and upscaling at once: the degradations (training) and
the upscaler's tile threads run their torch work on one intra-op thread without changing the count of any
other thread, nor the count torch hands to threads that start meanwhile."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
import torch

from engine.data import degradations
from engine.torch_threads import handed_down_kept, one_intra_op_thread
from engine.upscaling.tile_threads import TileThreads

ROUNDS = 4
WAIT_S = 60


@pytest.fixture
def two_threads() -> Iterator[None]:
    """The process at two intra-op threads (tests otherwise run at one, tests/conftest.py)."""
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(before)


def count_of_a_new_thread() -> int:
    seen: list[int] = []
    thread = threading.Thread(target=lambda: seen.append(torch.get_num_threads()))
    thread.start()
    thread.join()
    return seen[0]


def upscale(counts: list[tuple[int, list[int], int]]) -> None:
    """What an upscale job's thread does with the count (as TorchBackend does on a CPU): read it, run tiles on
    that many threads of one intra-op thread each."""
    cores = torch.get_num_threads()
    with handed_down_kept():
        tiles = TileThreads(cores, one_intra_op_thread)
    try:
        in_tiles = list(tiles.map(lambda tile: torch.full((1,), float(torch.get_num_threads())),
                                  [torch.rand(1, 1, 8, 8) for _ in range(4)]))
    finally:
        tiles.close()
    counts.append((cores, [int(count.item()) for count in in_tiles], torch.get_num_threads()))


def test_upscaling_while_training_degrades_leaves_every_count_as_it_was(two_threads: None,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    inside, go_on = threading.Semaphore(0), threading.Semaphore(0)
    real_sample = degradations.degrade_sample
    counts_inside: list[int] = []

    def held_sample(*args: Any) -> torch.Tensor:  # training is inside its degradations until the upscale is done
        counts_inside.append(torch.get_num_threads())
        inside.release()
        assert go_on.acquire(timeout=WAIT_S)
        return real_sample(*args)

    monkeypatch.setattr(degradations, "degrade_sample", held_sample)
    training_end: list[int] = []
    failures: list[BaseException] = []

    def train() -> None:
        try:
            for step in range(ROUNDS):
                hr = torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(step))
                degradations.degrade(hr, degradations.MEDIUM, 4, torch.Generator().manual_seed(step))
            training_end.append(torch.get_num_threads())
        except BaseException as exc:  # noqa: BLE001 - reported below
            failures.append(exc)

    trainer = threading.Thread(target=train)
    trainer.start()
    upscales: list[tuple[int, list[int], int]] = []
    try:
        for _ in range(ROUNDS):
            assert inside.acquire(timeout=WAIT_S)
            job = threading.Thread(target=upscale, args=(upscales,))  # an upscale job starts now
            job.start()
            job.join()
            go_on.release()
    finally:
        for _ in range(ROUNDS):
            go_on.release()
        trainer.join()
    assert not failures, failures
    assert counts_inside == [1] * ROUNDS, "the degradations ran on more than one intra-op thread"
    assert upscales == [(2, [1, 1, 1, 1], 2)] * ROUNDS, "upscale jobs started (or ended) at another count"
    assert training_end == [2]
    assert torch.get_num_threads() == 2 and count_of_a_new_thread() == 2
