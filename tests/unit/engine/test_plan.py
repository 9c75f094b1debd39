"""plan() asks for exactly the I/O a tick needs; advance() refuses to guess what it was not given."""

from __future__ import annotations

from dataclasses import replace

import pytest

from controller.engine import MissingObservation, advance, plan
from tests.unit.engine.world import WAITING, hook, initialized, make_canary, set_revision

LATER_TICK_HOOKS = ("rollback", "rollout", "confirm-traffic-increase")
HOOKS = [hook(n, n) for n in ("rollback", "pre-rollout", "rollout", "confirm-traffic-increase",
                              "confirm-promotion", "post-rollout")]


def _world():
    world = initialized(make_canary({"stepWeight": 10, "maxWeight": 20, "webhooks": HOOKS}))
    world.hook_answers["rollback"] = "not now"
    set_revision("v2")(world)
    world.tick()
    return world


def test_the_first_analysis_tick_asks_for_pre_rollout_and_the_traffic_gate_but_no_metrics() -> None:
    world = _world()
    world.tick()
    needs = world.needs[-1]
    assert needs.hooks == ("rollback", "pre-rollout", "confirm-traffic-increase")
    assert not needs.metrics


def test_later_ticks_ask_for_rollout_hooks_metrics_and_the_traffic_gate_in_order() -> None:
    world = _world()
    world.tick()
    world.tick()
    needs = world.needs[-1]
    assert needs.hooks == ("rollback", "rollout", "confirm-traffic-increase")
    assert needs.metrics


def test_nothing_is_called_while_the_canary_is_not_ready_but_the_rollback_hook() -> None:
    world = _world()
    world.canary_side = WAITING
    world.tick()
    assert world.needs[-1].hooks == ("rollback",)
    assert not world.needs[-1].metrics


def test_at_max_weight_the_promotion_gate_is_asked_instead_of_the_traffic_gate() -> None:
    world = _world()
    world.ticks_until(lambda w: w.routes.canary_weight == 20)
    world.tick()
    assert world.needs[-1].hooks == ("rollback", "rollout", "confirm-promotion")
    assert world.phase == "Promoting"


def test_advance_without_planned_metrics_raises() -> None:
    world = _world()
    world.tick()
    observations = world.observe()
    assert plan(world.canary, observations, world.now).metrics
    with pytest.raises(MissingObservation):
        advance(world.canary, replace(observations, hooks=world.answers(LATER_TICK_HOOKS)), world.now)


def test_same_inputs_same_decision() -> None:
    world = _world()
    world.tick()
    observations = replace(world.observe(), hooks=world.answers(LATER_TICK_HOOKS), metrics=world.metrics)
    assert advance(world.canary, observations, world.now) == advance(world.canary, observations, world.now)
