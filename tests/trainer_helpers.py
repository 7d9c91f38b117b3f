"""What the trainer tests share: running a Trainer to its end and picking its events by type."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from engine.training.trainer import Trainer

SHALLOW_LAYERS = {"relu1_2": 0.5, "conv2_2": 1.0}  # two cheap VGG layers: a real perceptual loss in a test


def run_all(trainer: Trainer, on_event: Callable[[Any], None] = lambda event: None) -> list[Any]:
    events = []
    for event in trainer.run():
        events.append(event)
        on_event(event)
    return events


def of_type(events: list[Any], kind: type) -> list[Any]:
    return [event for event in events if isinstance(event, kind)]
