"""Stopping inside a training step: on a busy CPU one step takes seconds, and Stop must answer within one.

Every layer of the networks a step runs checks the stop flag when its forward pass ends, and leaves a check on
its output's gradient, so the backward pass checks between layers too; a set flag raises StopRequested there.
The step is then undone (GANStep restores what it changed), so a run stopped mid-step resumes exactly.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import torch
from torch import nn


class StopRequested(Exception):
    """A stop was asked for inside a step; the step did not happen."""


class LayerChecks:
    """Stop checks on every leaf module of `networks`, doing nothing outside `active()`."""

    def __init__(self, networks: Iterable[nn.Module]) -> None:
        self._should_stop: Callable[[], bool] | None = None
        for network in networks:
            for layer in network.modules():
                if next(layer.children(), None) is None:
                    layer.register_forward_hook(self._after_forward)

    @contextlib.contextmanager
    def active(self, should_stop: Callable[[], bool] | None) -> Iterator[None]:
        """Check `should_stop` between layers in this block (None: not at all)."""
        self._should_stop = should_stop
        try:
            yield
        finally:
            self._should_stop = None

    def _check(self) -> None:
        if self._should_stop is not None and self._should_stop():
            raise StopRequested()

    def _after_forward(self, _layer: nn.Module, _inputs: Any, output: Any) -> None:
        if self._should_stop is None:
            return
        self._check()
        if isinstance(output, torch.Tensor) and output.requires_grad:
            output.register_hook(self._on_gradient)

    def _on_gradient(self, _gradient: torch.Tensor) -> None:
        self._check()
