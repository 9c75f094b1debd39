"""What reaches people: alert severities (flagger.md §4 scenario 21), events, event hooks, reasons."""

from __future__ import annotations

from controller.engine import Alert, RecordEvent, RunHooks
from tests.unit.engine.world import (
    LOW_SUCCESS,
    World,
    hook,
    initialized,
    make_canary,
    set_revision,
)

STEPS = {"stepWeight": 25, "maxWeight": 50, "threshold": 1}


def _severities(world: World) -> list[str]:
    return [a.severity for a in world.actions_of(Alert)]


def test_a_successful_rollout_alerts_info_at_init_start_and_success() -> None:
    world = initialized(make_canary(STEPS))
    set_revision("v2")(world)
    world.ticks_until(lambda w: w.phase == "Succeeded")
    assert _severities(world) == ["info", "info", "info"]
    assert "completed successfully" in world.actions_of(Alert)[-1].message


def test_a_rollback_alerts_error_with_the_reason() -> None:
    world = initialized(make_canary(STEPS))
    set_revision("v2")(world)
    world.tick()
    world.metrics = (LOW_SUCCESS,)
    world.ticks_until(lambda w: w.phase == "Failed")
    last = world.actions_of(Alert)[-1]
    assert last.severity == "error"
    assert "request-success-rate 91.2% is below min 99%" in last.message


def test_waiting_for_approval_alerts_warn() -> None:
    world = initialized(make_canary({**STEPS, "webhooks": [hook("go", "confirm-rollout")]}))
    world.hook_answers["go"] = "no"
    set_revision("v2")(world)
    world.tick()
    assert _severities(world) == ["info", "warn"]


def test_waiting_for_promotion_alerts_warn_once() -> None:
    world = initialized(make_canary({**STEPS, "webhooks": [hook("approve", "confirm-promotion")]}))
    world.hook_answers["approve"] = "no"
    set_revision("v2")(world)
    world.ticks_until(lambda w: w.phase == "WaitingPromotion")
    world.tick()
    assert _severities(world) == ["info", "info", "warn"]


def test_event_hooks_get_every_event_with_its_type() -> None:
    world = initialized(make_canary({**STEPS, "webhooks": [hook("audit", "event")]}))
    set_revision("v2")(world)
    world.metrics = (LOW_SUCCESS,)
    world.ticks_until(lambda w: w.phase == "Failed")
    events = world.actions_of(RecordEvent)
    forwarded = [h for h in world.actions_of(RunHooks) if h.type == "event"]
    assert [(h.message, h.event_type) for h in forwarded] == [(e.message, e.type) for e in events]
    assert forwarded[-1].event_type == "Warning"


def test_every_decision_has_a_reason() -> None:
    world = initialized(make_canary(STEPS))
    set_revision("v2")(world)
    world.ticks_until(lambda w: w.phase == "Succeeded")
    world.tick()
    assert all(d.reason and d.status.last_reason == d.reason for d in world.decisions)
