"""Canary (weights) strategy, tick by tick: flagger.md §4 scenarios 5-8 and 15, plus its gates."""

from __future__ import annotations

from controller.engine import PromoteToPrimary, RunHooks, ScaleCanaryToZero, SetRoutes
from tests.unit.engine.world import (
    LOW_SUCCESS,
    PASS,
    SLOW,
    Row,
    answer,
    drive,
    hook,
    initialized,
    make_canary,
    set_metrics,
    set_revision,
)


def test_image_change_steps_weights_to_max_then_promotes_and_scales_canary_down() -> None:
    world = initialized(make_canary({"stepWeight": 10, "maxWeight": 30}))
    drive(world, [
        Row("Progressing", (100, 0), "new revision v2; scaling up the canary", then=set_revision("v2")),
        Row("Progressing", (90, 10), "advance canary weight 0 -> 10 (step 1/3)"),
        Row("Progressing", (80, 20), "advance canary weight 10 -> 20 (step 2/3)"),
        Row("Progressing", (70, 30), "advance canary weight 20 -> 30 (step 3/3)"),
        Row("Promoting", (70, 30), "canary weight 30 reached max 30; promoting"),
        Row("Finalising", (100, 0), "all traffic back on it"),
        Row("Succeeded", (100, 0), "promotion finished"),
        Row("Succeeded", (100, 0), "no new revision"),
    ])
    assert len(world.actions_of(PromoteToPrimary)) == 1
    progress = [(d.status.step, d.status.total_steps) for d in world.decisions[1:5]]
    assert progress == [(0, 3), (1, 3), (2, 3), (3, 3)]
    assert world.canary_replicas == 0
    assert world.status.last_promoted_spec == "v2"
    assert world.actions_of(RunHooks) == [RunHooks("post-rollout", "Succeeded")]


def test_last_step_may_overshoot_max_weight_as_flagger_does() -> None:
    world = initialized(make_canary({"stepWeight": 20, "maxWeight": 50}))
    set_revision("v2")(world)
    seen = []
    for _ in range(5):
        world.tick()
        seen.append(world.weights[1])
    assert seen == [0, 20, 40, 60, 60]
    assert world.phase == "Promoting"


def test_step_weights_promote_through_the_listed_weights() -> None:
    world = initialized(make_canary({"stepWeights": [10, 20, 30, 40, 50, 60]}))
    set_revision("v2")(world)
    world.ticks_until(lambda w: w.phase == "Promoting")
    weights = [a.routes.canary_weight for a in world.actions_of(SetRoutes)]
    assert [w for w in weights if w] == [10, 20, 30, 40, 50, 60]


def test_step_weight_overflowing_100_is_capped() -> None:
    world = initialized(make_canary({"stepWeight": 40}))
    set_revision("v2")(world)
    world.ticks_until(lambda w: w.phase == "Promoting")
    assert [d.status.canary_weight for d in world.decisions if d.status.phase == "Progressing"][-3:] == [
        40, 80, 100]


def test_step_weight_promotion_shifts_traffic_back_in_steps() -> None:
    world = initialized(make_canary({"stepWeight": 50, "stepWeightPromotion": 50}))
    drive(world, [
        Row("Progressing", (100, 0), then=set_revision("v2")),
        Row("Progressing", (50, 50)),
        Row("Progressing", (0, 100)),
        Row("Promoting", (0, 100), "reached max 100"),
        Row("Promoting", (50, 50), "shifting traffic back to it: canary weight 100 -> 50"),
        Row("Finalising", (100, 0)),
        Row("Succeeded", (100, 0)),
    ])


def test_failing_success_rate_rolls_back_at_the_threshold_naming_value_and_range() -> None:
    world = initialized(make_canary({"stepWeight": 10, "maxWeight": 50, "threshold": 3}))
    drive(world, [
        Row("Progressing", (100, 0), then=set_revision("v2")),
        Row("Progressing", (90, 10)),
        Row("Progressing", (90, 10), "request-success-rate 91.2% is below min 99% (failed checks 1/3)",
            then=set_metrics(LOW_SUCCESS)),
        Row("Progressing", (90, 10), "(failed checks 2/3)"),
        Row("Failed", (100, 0), "rolled back: request-success-rate 91.2% is below min 99% "
            "(failed checks 3/3, threshold reached)"),
        Row("Failed", (100, 0), "no new revision"),
    ])
    assert world.canary_replicas == 0
    assert world.status.last_promoted_spec == "v1"
    assert world.status.last_checks is not None and world.status.last_checks[0].value == 91.2
    assert [a for a in world.decisions[-2].actions if isinstance(a, ScaleCanaryToZero)]


def test_the_analysis_packages_own_reason_is_used_when_it_gives_one() -> None:
    world = initialized(make_canary({"stepWeight": 10, "maxWeight": 50}))
    drive(world, [
        Row("Progressing", then=set_revision("v2")),
        Row("Progressing", (90, 10)),
        Row("Progressing", (90, 10), "request-duration 730.00ms > max 500ms (failed checks 1/5)",
            then=set_metrics(PASS, SLOW)),
    ])
    assert [c.outcome for c in world.status.last_checks or []] == ["pass", "fail"]


def test_a_check_that_recovers_keeps_counting_failures_already_made() -> None:
    world = initialized(make_canary({"stepWeight": 10, "maxWeight": 50, "threshold": 2}))
    drive(world, [
        Row("Progressing", then=set_revision("v2")),
        Row("Progressing", (90, 10)),
        Row("Progressing", (90, 10), "failed checks 1/2", then=set_metrics(LOW_SUCCESS)),
        Row("Progressing", (80, 20), "advance canary weight 10 -> 20", then=set_metrics(PASS)),
        Row("Failed", (100, 0), "failed checks 2/2", then=set_metrics(LOW_SUCCESS)),
    ])


def test_mirroring_comes_before_the_first_weight_step() -> None:
    world = initialized(make_canary({"stepWeight": 10, "maxWeight": 20, "mirror": True}))
    drive(world, [
        Row("Progressing", (100, 0), then=set_revision("v2")),
        Row("Progressing", (100, 0), "mirroring primary traffic to the canary"),
        Row("Progressing", (90, 10), "advance canary weight 0 -> 10"),
    ])
    assert [d.status.mirrored for d in world.decisions[-2:]] == [True, False]
    assert world.routes.mirrored is False


def test_pre_rollout_hook_failure_counts_a_failed_check_before_any_traffic_moves() -> None:
    world = initialized(make_canary({"stepWeight": 10, "maxWeight": 20, "threshold": 2,
                                     "webhooks": [hook("acceptance", "pre-rollout")]}))
    drive(world, [
        Row("Progressing", (100, 0), then=set_revision("v2")),
        Row("Progressing", (100, 0),
            'pre-rollout hook "acceptance" failed: token missing (failed checks 1/2)',
            then=answer("acceptance", "token missing")),
        Row("Progressing", (90, 10), "advance canary weight 0 -> 10", then=answer("acceptance", True)),
    ])


def test_rollout_hook_failure_halts_advancement() -> None:
    load = hook("load", "rollout")
    world = initialized(make_canary({"stepWeight": 10, "maxWeight": 20, "webhooks": [load]}))
    drive(world, [
        Row("Progressing", (100, 0), then=set_revision("v2")),
        Row("Progressing", (90, 10)),
        Row("Progressing", (90, 10), 'rollout hook "load" failed: 500 (failed checks 1/5)',
            then=answer("load", "500")),
    ])


def test_confirm_traffic_increase_holds_the_weight_until_the_gate_opens() -> None:
    world = initialized(make_canary({"stepWeight": 10, "maxWeight": 20,
                                     "webhooks": [hook("more", "confirm-traffic-increase")]}))
    drive(world, [
        Row("Progressing", (100, 0), then=set_revision("v2")),
        Row("Progressing", (90, 10)),
        Row("Progressing", (90, 10),
            'canary weight stays 10; waiting for confirm-traffic-increase gate "more" since 12:03:00',
            then=answer("more", "not yet")),
        Row("Progressing", (90, 10), "since 12:03:00"),
        Row("Progressing", (80, 20), "advance canary weight 10 -> 20", then=answer("more", True)),
    ])
    assert world.status.failed_checks == 0
