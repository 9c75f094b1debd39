"""A/B testing, blue/green and session affinity: flagger.md §4 scenarios 13, 14 and 16."""

from __future__ import annotations

from controller.api.routes import Routes
from controller.engine import PromoteToPrimary, RunHooks, SetRoutes
from tests.unit.engine.world import (
    LOW_SUCCESS,
    Row,
    answer,
    drive,
    hook,
    initialized,
    make_canary,
    set_revision,
)

INSIDERS = [{"headers": {"x-canary": {"exact": "insider"}}}]


def test_ab_sends_matching_requests_to_the_canary_for_n_iterations_then_promotes_past_the_gate() -> None:
    world = initialized(make_canary({
        "iterations": 3, "match": INSIDERS,
        "webhooks": [hook("approve", "confirm-promotion"), hook("notify", "post-rollout")],
    }))
    drive(world, [
        Row("Progressing", (100, 0), then=set_revision("v2")),
        Row("Progressing", (0, 100), "A/B iteration 1/3: matching requests go to the canary"),
        Row("Progressing", (0, 100), "A/B iteration 2/3"),
        Row("Progressing", (0, 100), "A/B iteration 3/3"),
        Row("WaitingPromotion", (0, 100), 'all 3 A/B iterations passed; waiting for confirm-promotion gate '
            '"approve" since 12:05:00', then=answer("approve", "not approved")),
        Row("Promoting", (0, 100), "promoting", then=answer("approve", True)),
        Row("Finalising", (100, 0)),
        Row("Succeeded", (100, 0)),
    ])
    assert all(a.routes.matched for a in world.actions_of(SetRoutes) if a.routes.canary_weight == 100)
    assert world.status.canary_weight == 0, "status weight is the canary's share of all traffic"
    assert RunHooks("post-rollout", "Succeeded") in world.actions_of(RunHooks)


def test_ab_analysis_keeps_running_while_waiting_for_promotion() -> None:
    world = initialized(make_canary({"iterations": 1, "match": INSIDERS, "threshold": 1,
                                     "webhooks": [hook("approve", "confirm-promotion")]}))
    set_revision("v2")(world)
    world.hook_answers["approve"] = "no"
    world.ticks_until(lambda w: w.phase == "WaitingPromotion")
    world.metrics = (LOW_SUCCESS,)
    drive(world, [Row("Failed", (100, 0), "request-success-rate 91.2% is below min 99%")])


def test_blue_green_runs_iterations_on_the_side_switches_traffic_then_promotes() -> None:
    world = initialized(make_canary({"iterations": 1}))
    drive(world, [
        Row("Progressing", (100, 0), then=set_revision("v2")),
        Row("Progressing", (100, 0), "blue/green iteration 1/1: traffic stays on the primary"),
        Row("Progressing", (0, 100), "switching all traffic to the canary before promotion"),
        Row("Promoting", (0, 100), "traffic is on the canary; promoting"),
        Row("Finalising", (100, 0)),
        Row("Succeeded", (100, 0)),
    ])
    switch = world.decisions.index(next(d for d in world.decisions if PromoteToPrimary() in d.actions))
    assert SetRoutes(Routes(0, 100)) in world.decisions[switch - 1].actions


def test_blue_green_with_mirror_mirrors_during_iterations() -> None:
    world = initialized(make_canary({"iterations": 2, "mirror": True}))
    drive(world, [
        Row("Progressing", (100, 0), then=set_revision("v2")),
        Row("Progressing", (100, 0), "iteration 1/2"),
        Row("Progressing", (100, 0), "iteration 2/2"),
    ])
    assert world.routes.mirrored
    assert world.status.mirrored


def test_session_affinity_cookie_per_revision_retired_after_promotion() -> None:
    world = initialized(make_canary({
        "stepWeight": 50, "maxWeight": 50,
        "sessionAffinity": {"cookieName": "canary-session", "primaryCookieName": "primary-session"},
    }))
    drive(world, [Row("Progressing", (100, 0), then=set_revision("rev-two"))])
    assert world.status.session_affinity_cookie == "canary-session=rev-two"
    world.ticks_until(lambda w: w.phase == "Succeeded")
    status = world.status
    assert status.session_affinity_cookie is None
    assert status.previous_session_affinity_cookie == "canary-session=rev-two"
    assert status.primary_session_affinity_cookie == "primary-session=rev-two"
