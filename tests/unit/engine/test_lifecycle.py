"""Bootstrap, revisions and the ways a run ends: flagger.md §4 scenarios 1 (engine part), 9-11, 17, 18."""

from __future__ import annotations

from controller.engine import Alert, PromoteToPrimary, ScaleCanaryToZero, SetRoutes
from tests.unit.engine.world import (
    BROKEN,
    LOW_SUCCESS,
    PASS,
    READY,
    WAITING,
    Row,
    World,
    both,
    command,
    drive,
    initialized,
    make_canary,
    set_canary,
    set_metrics,
    set_primary,
    set_revision,
)

STEPS = {"stepWeight": 10, "maxWeight": 20}


def test_bootstrap_waits_for_the_primary_then_routes_all_traffic_to_it() -> None:
    world = World(make_canary(STEPS), primary=WAITING)
    drive(world, [
        Row("Initializing", None, "waiting for the primary to be ready since 12:00:00"),
        Row("Initialized", (100, 0), "primary ready", then=set_primary(READY)),
        Row("Initialized", (100, 0), "no new revision"),
    ])
    assert world.status.last_applied_spec == world.status.last_promoted_spec == "v1"
    assert world.actions_of(ScaleCanaryToZero)
    assert world.status.conditions and world.status.conditions[0].status == "True"


def test_a_primary_that_never_gets_ready_fails_initialization_at_the_progress_deadline() -> None:
    world = World(make_canary(STEPS, progressDeadlineSeconds=120), primary=WAITING)
    drive(world, [
        Row("Initializing"),
        Row("Initializing"),
        Row("Failed", None, "primary not ready within progressDeadlineSeconds (120s)"),
        Row("Failed", None, "no new revision"),
    ])


def test_new_revision_mid_run_resets_routes_and_counters() -> None:
    world = initialized(make_canary({"stepWeight": 10, "maxWeight": 50}))
    drive(world, [
        Row("Progressing", (100, 0), then=set_revision("v2")),
        Row("Progressing", (90, 10)),
        Row("Progressing", (90, 10), "failed checks 1/5", then=set_metrics(LOW_SUCCESS)),
        Row("Progressing", (100, 0), "new revision v3 (was v2); routes back to 100/0, analysis restarted",
            then=set_revision("v3")),
    ])
    status = world.status
    assert (status.failed_checks, status.canary_weight, status.iterations) == (0, 0, 0)
    assert status.last_applied_spec == "v3"


def test_reverting_to_the_primary_revision_after_a_failure_starts_nothing_but_a_new_one_does() -> None:
    world = initialized(make_canary({"stepWeight": 10, "maxWeight": 20, "threshold": 1}))
    drive(world, [
        Row("Progressing", then=set_revision("bad")),
        Row("Progressing", (90, 10)),
        Row("Failed", (100, 0), "threshold reached", then=set_metrics(LOW_SUCCESS)),
        Row("Failed", (100, 0), "target reverted to the primary's revision v1; nothing to roll out",
            then=set_revision("v1")),
        Row("Failed", (100, 0), "no new revision"),
        Row("Progressing", (100, 0), "new revision good", then=set_revision("good")),
    ])


def test_touching_the_target_retries_a_failed_run_which_can_then_succeed() -> None:
    world = initialized(make_canary({"stepWeight": 10, "maxWeight": 10, "threshold": 1}))
    set_revision("v2")(world)
    world.metrics = (LOW_SUCCESS,)
    world.ticks_until(lambda w: w.phase == "Failed")
    set_revision("v2-annotated")(world)
    world.metrics = (PASS,)
    world.ticks_until(lambda w: w.phase == "Succeeded")
    assert world.status.last_promoted_spec == "v2-annotated"


def test_a_tracked_config_change_alone_starts_a_run() -> None:
    world = initialized(make_canary(STEPS))
    drive(world, [
        Row("Progressing", (100, 0), "new revision v1",
            then=set_revision("v1", **{"configmap/podinfo": "c2"})),
    ])
    world.ticks_until(lambda w: w.phase == "Succeeded")
    assert world.status.tracked_configs == {"configmap/podinfo": "c2"}
    assert len(world.actions_of(PromoteToPrimary)) == 1


def test_skip_analysis_promotes_once_the_canary_is_ready_without_asking_for_metrics() -> None:
    world = initialized(make_canary(STEPS, skipAnalysis=True))
    drive(world, [
        Row("Progressing", (100, 0), then=set_revision("v2")),
        Row("Succeeded", (100, 0), "skipAnalysis is set: promoted without analysis"),
    ])
    assert not any(n.metrics for n in world.needs)
    assert world.actions_of(PromoteToPrimary)


def test_skip_analysis_with_a_bad_image_fails_at_the_progress_deadline_keeping_the_primary() -> None:
    world = initialized(make_canary(STEPS, skipAnalysis=True, progressDeadlineSeconds=180))
    drive(world, [
        Row("Progressing", (100, 0), then=set_revision("potato")),
        Row("Progressing", (100, 0), "waiting for the canary to be ready since 12:02:00",
            then=set_canary(WAITING)),
        Row("Progressing", (100, 0)),
        Row("Progressing", (100, 0)),
        Row("Failed", (100, 0), "canary not ready within progressDeadlineSeconds (180s)"),
    ])
    assert not world.actions_of(PromoteToPrimary)
    assert world.status.last_promoted_spec == "v1"


def test_a_canary_that_crashes_is_rolled_back_at_once() -> None:
    world = initialized(make_canary(STEPS))
    drive(world, [
        Row("Progressing", then=set_revision("v2")),
        Row("Failed", (100, 0), "rolled back: canary failed: ImagePullBackOff",
            then=set_canary(BROKEN)),
    ])


def test_primary_broken_while_promoting_sends_traffic_to_the_healthy_canary() -> None:
    world = initialized(make_canary(STEPS))
    set_revision("v2")(world)
    world.ticks_until(lambda w: w.phase == "Promoting")
    drive(world, [
        Row("Promoting", (80, 20), "promoting: waiting for the primary",
            then=set_primary(WAITING)),
        Row("Failed", (0, 100),
            "promotion failed: primary failed: ImagePullBackOff; all traffic on the canary",
            then=set_primary(BROKEN)),
    ])
    assert world.status.canary_weight == 100
    assert world.canary_replicas > 0
    assert Alert("error", "Promotion failed for podinfo.test: primary failed: ImagePullBackOff; all traffic "
                 "sent to the canary") in world.actions_of(Alert)


def test_after_a_failed_promotion_a_new_revision_waits_for_the_primary_or_a_manual_promote() -> None:
    world = initialized(make_canary(STEPS))
    set_revision("v2")(world)
    world.ticks_until(lambda w: w.phase == "Promoting")
    drive(world, [
        Row("Failed", (0, 100), "promotion failed", then=set_primary(BROKEN)),
        Row("Failed", (0, 100), "new revision v3 waits: the primary is failed (ImagePullBackOff); "
            "`sluice promote` promotes it directly", then=set_revision("v3")),
        Row("Promoting", (0, 100), "promoted by alice", then=both(command("promote"), set_primary(WAITING))),
        Row("Promoting", (0, 100), "waiting for the primary"),
        Row("Finalising", (100, 0), then=set_primary(READY)),
        Row("Succeeded", (100, 0)),
    ])
    assert world.status.last_promoted_spec == "v3"


def test_a_new_run_after_a_failed_promotion_starts_from_the_primary_once_it_is_back() -> None:
    world = initialized(make_canary(STEPS))
    set_revision("v2")(world)
    world.ticks_until(lambda w: w.phase == "Promoting")
    drive(world, [
        Row("Failed", (0, 100), "promotion failed", then=set_primary(BROKEN)),
        Row("Progressing", (100, 0), "new revision v3", then=both(set_revision("v3"), set_primary(READY))),
    ])


def test_primary_that_breaks_after_traffic_went_back_to_it_fails_in_finalising() -> None:
    world = initialized(make_canary(STEPS))
    set_revision("v2")(world)
    world.ticks_until(lambda w: w.phase == "Finalising")
    drive(world, [Row("Failed", (0, 100), "promotion failed", then=set_primary(BROKEN))])
    assert world.canary_replicas > 0


def test_a_succeeded_rollout_reports_once_and_then_stays_quiet() -> None:
    world = initialized(make_canary(STEPS))
    set_revision("v2")(world)
    world.ticks_until(lambda w: w.phase == "Succeeded")
    entered = [i for i, d in enumerate(world.decisions) if d.status.phase == "Succeeded"]
    quiet = [world.tick() for _ in range(3)]
    assert len(entered) == 1
    assert all(d.actions == () for d in quiet)
    assert [a.routes for a in world.actions_of(SetRoutes)][-1].canary_weight == 0
