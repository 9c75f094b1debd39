"""Confirm gates and rollback hooks, including what Flagger got wrong: rollback hooks are heard while
Waiting (#1432), and a gate with `gateTimeout` fails the rollout instead of waiting forever (#1450)."""

from __future__ import annotations

from controller.engine import Alert, ScaleCanaryFromZero
from tests.unit.engine.world import Row, answer, drive, hook, initialized, make_canary, set_revision

STEPS = {"stepWeight": 10, "maxWeight": 10}


def test_confirm_rollout_keeps_the_new_revision_waiting_with_one_warning_then_starts() -> None:
    world = initialized(make_canary({**STEPS, "webhooks": [hook("go", "confirm-rollout")]}))
    world.hook_answers["go"] = "closed"
    drive(world, [
        Row("Waiting", (100, 0),
            'new revision v2; waiting for confirm-rollout gate "go" since 12:01:00 (closed)',
            then=set_revision("v2")),
        Row("Waiting", (100, 0), "since 12:01:00"),
        Row("Progressing", (100, 0), "scaling up the canary", then=answer("go", True)),
    ])
    warnings = [a for a in world.actions_of(Alert) if a.severity == "warn"]
    assert len(warnings) == 1 and "waiting for approval" in warnings[0].message
    assert len(world.actions_of(ScaleCanaryFromZero)) == 1
    assert world.status.waiting_for is None


def test_setting_the_target_back_while_waiting_ends_the_wait() -> None:
    world = initialized(make_canary({**STEPS, "webhooks": [hook("go", "confirm-rollout")]}))
    world.hook_answers["go"] = "closed"
    drive(world, [
        Row("Waiting", then=set_revision("v2")),
        Row("Initialized", (100, 0), "target went back to the primary's revision v1 while waiting",
            then=set_revision("v1")),
        Row("Initialized", (100, 0), "no new revision"),
    ])


def test_a_muted_gate_waits_without_alerting() -> None:
    world = initialized(make_canary({**STEPS, "webhooks": [hook("go", "confirm-rollout", muteAlert=True)]}))
    world.hook_answers["go"] = "closed"
    drive(world, [Row("Waiting", then=set_revision("v2"))])
    assert not [a for a in world.actions_of(Alert) if a.severity == "warn"]


def test_rollback_hook_is_heard_while_waiting_for_confirm_rollout() -> None:
    world = initialized(make_canary({**STEPS, "webhooks": [
        hook("go", "confirm-rollout"), hook("stop", "rollback")]}))
    world.hook_answers.update({"go": "closed", "stop": "no"})
    drive(world, [
        Row("Waiting", (100, 0), then=set_revision("v2")),
        Row("Failed", (100, 0), 'rolled back: rollback hook "stop" asked for a rollback',
            then=answer("stop", True)),
        Row("Failed", (100, 0), "no new revision"),
    ])


def test_rollback_hook_rolls_back_a_progressing_canary() -> None:
    stop = hook("stop", "rollback")
    world = initialized(make_canary({"stepWeight": 10, "maxWeight": 50, "webhooks": [stop]}))
    world.hook_answers["stop"] = "no"
    drive(world, [
        Row("Progressing", then=set_revision("v2")),
        Row("Progressing", (90, 10)),
        Row("Failed", (100, 0), 'rollback hook "stop" asked for a rollback', then=answer("stop", True)),
    ])


def test_confirm_rollout_timeout_fails_the_rollout_naming_the_gate() -> None:
    world = initialized(make_canary({**STEPS, "webhooks": [hook("go", "confirm-rollout", gateTimeout="2m")]}))
    world.hook_answers["go"] = "closed"
    drive(world, [
        Row("Waiting", then=set_revision("v2")),
        Row("Waiting"),
        Row("Failed", (100, 0), 'confirm-rollout gate "go" still closed after 120s (waiting since 12:01:00)'),
        Row("Failed", (100, 0), "no new revision"),
    ])


def test_confirm_promotion_timeout_rolls_back_from_waiting_promotion() -> None:
    world = initialized(make_canary({**STEPS, "webhooks": [
        hook("approve", "confirm-promotion", gateTimeout="1m")]}))
    world.hook_answers["approve"] = "no"
    drive(world, [
        Row("Progressing", then=set_revision("v2")),
        Row("Progressing", (90, 10)),
        Row("WaitingPromotion", (90, 10), 'waiting for confirm-promotion gate "approve" since 12:03:00'),
        Row("Failed", (100, 0), 'confirm-promotion gate "approve" still closed after 60s'),
    ])
    assert world.canary_replicas == 0


def test_a_gate_without_timeout_waits_as_long_as_it_takes() -> None:
    world = initialized(make_canary({**STEPS, "webhooks": [hook("approve", "confirm-promotion")]}))
    world.hook_answers["approve"] = "no"
    set_revision("v2")(world)
    for _ in range(30):
        world.tick()
    assert world.phase == "WaitingPromotion"
    assert world.status.waiting_for == "gate:confirm-promotion"
    assert world.status.waiting_since == "2026-11-29T12:03:00Z"
