"""Manual promote, abort, pause, resume and retry as first-class inputs (Flagger issues #724, #1467)."""

from __future__ import annotations

from controller.engine import PromoteToPrimary
from tests.unit.engine.world import (
    LOW_SUCCESS,
    PASS,
    WAITING,
    Row,
    command,
    drive,
    hook,
    initialized,
    make_canary,
    set_metrics,
    set_revision,
)

STEPS = {"stepWeight": 10, "maxWeight": 50, "threshold": 2}


def test_promote_skips_the_rest_of_the_analysis() -> None:
    world = initialized(make_canary(STEPS))
    drive(world, [
        Row("Progressing", then=set_revision("v2")),
        Row("Progressing", (90, 10)),
        Row("Promoting", (90, 10), "promoted by alice, skipping the rest of the analysis; promoting",
            then=command("promote")),
        Row("Finalising", (100, 0)),
        Row("Succeeded", (100, 0)),
    ])
    assert world.status.last_promoted_spec == "v2"


def test_promote_while_waiting_for_approval_promotes_without_a_run() -> None:
    world = initialized(make_canary({**STEPS, "webhooks": [hook("go", "confirm-rollout")]}))
    world.hook_answers["go"] = "no"
    drive(world, [
        Row("Waiting", then=set_revision("v2")),
        Row("Promoting", (100, 0), "promoted by alice", then=command("promote")),
    ])
    world.ticks_until(lambda w: w.phase == "Succeeded")
    assert world.status.last_promoted_spec == "v2"


def test_abort_rolls_back_now() -> None:
    world = initialized(make_canary(STEPS))
    drive(world, [
        Row("Progressing", then=set_revision("v2")),
        Row("Progressing", (90, 10)),
        Row("Failed", (100, 0), "rolled back: aborted by alice", then=command("abort")),
    ])
    assert world.canary_replicas == 0


def test_pause_holds_the_weight_and_runs_no_checks_until_resume() -> None:
    world = initialized(make_canary(STEPS))
    drive(world, [
        Row("Progressing", then=set_revision("v2")),
        Row("Progressing", (90, 10)),
        Row("Progressing", (90, 10), "paused by alice at canary weight 10", then=command("pause")),
        Row("Progressing", (90, 10), "paused at canary weight 10; no checks", then=set_metrics(LOW_SUCCESS)),
        Row("Progressing", (90, 10), "paused at canary weight 10"),
        Row("Progressing", (90, 10), "resumed by alice; request-success-rate 91.2% is below min 99%",
            then=command("resume")),
    ])
    paused_ticks = world.needs[-3:-1]
    assert not any(n.metrics for n in paused_ticks)
    assert world.status.failed_checks == 1


def test_pause_does_not_count_towards_the_progress_deadline() -> None:
    world = initialized(make_canary(STEPS, progressDeadlineSeconds=120))
    set_revision("v2")(world)
    world.tick()
    world.canary_side = WAITING
    drive(world, [
        Row("Progressing", None, "waiting for the canary"),
        Row("Progressing", None, "paused", then=command("pause")),
        *[Row("Progressing", None, "paused") for _ in range(5)],
        Row("Progressing", None, "resumed by alice; waiting for the canary to be ready since 12:09:00",
            then=command("resume")),
        Row("Progressing", None, "waiting for the canary"),
        Row("Failed", None, "canary not ready within progressDeadlineSeconds"),
    ])


def test_retry_restarts_a_failed_rollout_of_the_same_revision() -> None:
    world = initialized(make_canary({**STEPS, "threshold": 1}))
    set_revision("v2")(world)
    world.metrics = (LOW_SUCCESS,)
    world.ticks_until(lambda w: w.phase == "Failed")
    world.metrics = (PASS,)
    drive(world, [
        Row("Failed", (100, 0), "no new revision"),
        Row("Progressing", (100, 0), "retry by alice of revision v2; scaling up the canary",
            then=command("retry")),
    ])
    world.ticks_until(lambda w: w.phase == "Succeeded")
    assert len(world.actions_of(PromoteToPrimary)) == 1


def test_a_command_is_acted_on_once() -> None:
    world = initialized(make_canary(STEPS))
    drive(world, [
        Row("Progressing", then=set_revision("v2")),
        Row("Progressing", (90, 10)),
        Row("Progressing", (90, 10), "paused by alice", then=command("pause")),
        Row("Progressing", (90, 10), "paused at canary weight 10"),
        Row("Progressing", (80, 20), "resumed by alice; advance canary weight 10 -> 20",
            then=command("resume")),
    ])
    assert world.tick().reason == "advance canary weight 20 -> 30 (step 3/5)"


def test_a_command_that_does_not_apply_is_noted_and_ignored() -> None:
    world = initialized(make_canary(STEPS))
    drive(world, [
        Row("Initialized", (100, 0), "ignored abort: not applicable in phase Initialized; Initialized",
            then=command("abort")),
        Row("Initialized", (100, 0), "no new revision"),
    ])
    assert world.status.last_command == "abort-1"
