"""The trainer's stateful parts: each one's state_dict round-trips (a resumed run goes on exactly where
it stopped)."""

from __future__ import annotations

import math

import pytest
import torch

from engine import events as ev
from engine.training.best_score import BestScore
from engine.training.failures import FrozenGenerator
from engine.training.rollback import MAX_ROLLBACKS, RollbackPolicy
from engine.training.step_clock import StepClock
from engine.training.validation import COLLAPSE_COUNT, CollapseWatch, FrozenWatch, Score


def test_best_score_keeps_the_best_weights_and_round_trips() -> None:
    best = BestScore()
    assert best.finite_psnr is None
    assert not best.update(1, {"psnr": 30.0}, lambda: pytest.fail("the starting weights are never the best"))
    assert best.finite_psnr is None and best.last_validation == {"psnr": 30.0}
    assert best.update(2, {"psnr": 20.0}, lambda: {"w": torch.ones(2)})
    assert not best.update(3, {"psnr": 19.0}, lambda: pytest.fail("weights of a worse score are not copied"))
    assert best.step == 2 and best.last_validation == {"psnr": 19.0}
    state = best.state_dict()
    assert {"psnr", "step", "last_validation", "generator"} == set(state)
    again = BestScore()
    again.load_state_dict(state)
    state["generator"]["w"].zero_()  # a copy: the stored state does not share tensors
    assert (again.psnr, again.step, again.last_validation) == (20.0, 2, {"psnr": 19.0})
    assert torch.equal(again.generator["w"], torch.ones(2))


def test_rollback_policy_halves_gives_up_and_round_trips() -> None:
    policy = RollbackPolicy()
    policy.mark_good({"step": 5})
    for _ in range(MAX_ROLLBACKS):
        assert policy.next_attempt() == {"step": 5}
        policy.retried(policy.lr_scale)
    assert policy.next_attempt() is None
    assert policy.lr_scale == 0.5 ** MAX_ROLLBACKS and policy.reshuffles == MAX_ROLLBACKS
    again = RollbackPolicy()
    again.load_state_dict(policy.state_dict())
    assert (again.lr_scale, again.reshuffles) == (policy.lr_scale, policy.reshuffles)
    again.mark_good({"step": 9})
    assert again.next_attempt() == {"step": 9}  # a new good state starts the count again


def test_collapse_watch_round_trips() -> None:
    watch, bicubic = CollapseWatch(), Score(30.0, 0.9)
    for _ in range(COLLAPSE_COUNT):  # the first only sets the score to compare with
        assert watch.check(Score(8.0, 0.3), bicubic) is None
    state = watch.state_dict()
    assert state == {"below": COLLAPSE_COUNT - 1, "previous": 8.0}
    again = CollapseWatch()
    again.load_state_dict(state)
    assert again.check(Score(8.0, 0.3), bicubic) is not None  # the resumed watch counts on


def test_frozen_watch_raises_only_while_learning_and_round_trips() -> None:
    watch = FrozenWatch()
    watch.check(1.5, learning=True)
    watch.check(1.5, learning=False)  # a rate of 0 keeps the weights still on purpose
    again = FrozenWatch()
    again.load_state_dict(watch.state_dict())
    with pytest.raises(FrozenGenerator, match="stopped changing"):
        again.check(1.5, learning=True)


def test_step_clock_smooths_towards_the_recent_speed() -> None:
    clock = StepClock()
    clock.seconds_per_step = 1.0
    clock._last -= 2.0  # the next step took about 2 s
    clock.tick()
    assert 1.0 < clock.seconds_per_step < 1.2 and math.isclose(clock.eta_s(10), 10 * clock.seconds_per_step)


def test_history_records_round_trip_through_the_stored_dicts() -> None:
    records = [ev.StepRecord(step=1, phase="gan", losses={"g_loss": 1.0}, d_real=0.6, d_fake=0.4, lr_g=1e-4,
                             lr_d=1e-4),
               ev.ValidationRecord(step=1, psnr=25.0, ssim=0.8, bicubic_psnr=24.0, bicubic_ssim=0.7)]
    stored = ev.history_to_dicts(records)
    assert [item["kind"] for item in stored] == ["step", "validation"]
    assert ev.history_from_dicts(stored) == records
