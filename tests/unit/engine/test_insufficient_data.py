"""Too little canary traffic to judge is a wait, not a failure (Flagger issues #883, #1689), bounded by
progressDeadlineSeconds."""

from __future__ import annotations

from tests.unit.engine.world import (
    FEW_REQUESTS,
    PASS,
    Row,
    drive,
    initialized,
    make_canary,
    set_metrics,
    set_revision,
)

STEPS = {"stepWeight": 10, "maxWeight": 50, "threshold": 1}


def test_a_starved_canary_waits_without_failing_and_goes_on_when_traffic_comes() -> None:
    world = initialized(make_canary(STEPS))
    drive(world, [
        Row("Progressing", then=set_revision("v2")),
        Row("Progressing", (90, 10)),
        Row("Progressing", (90, 10), "request-success-rate: insufficient data, canary served 3 requests "
            "in 1m (needs 20); waiting since 12:03:00 (1 tick(s), no failed check counted)",
            then=set_metrics(FEW_REQUESTS)),
        Row("Progressing", (90, 10), "waiting since 12:03:00 (2 tick(s)"),
        Row("Progressing", (80, 20), "advance canary weight 10 -> 20", then=set_metrics(PASS)),
    ])
    assert world.status.failed_checks == 0
    assert world.status.insufficient_data_checks == 0


def test_a_canary_starved_past_the_progress_deadline_fails_with_that_reason() -> None:
    world = initialized(make_canary(STEPS, progressDeadlineSeconds=180))
    drive(world, [
        Row("Progressing", then=set_revision("v2")),
        Row("Progressing", (90, 10)),
        Row("Progressing", (90, 10), "insufficient data", then=set_metrics(FEW_REQUESTS)),
        Row("Progressing", (90, 10)),
        Row("Progressing", (90, 10)),
        Row("Failed", (100, 0), "rolled back: request-success-rate: insufficient data, canary served 3 "
            "requests in 1m (needs 20) for 180s (progressDeadlineSeconds)"),
    ])
    checks = world.status.last_checks
    assert checks is not None and checks[0].outcome == "insufficient-data"


def test_a_failing_metric_beside_a_starved_one_still_counts() -> None:
    from tests.unit.engine.world import LOW_SUCCESS

    world = initialized(make_canary(STEPS))
    drive(world, [
        Row("Progressing", then=set_revision("v2")),
        Row("Progressing", (90, 10)),
        Row("Failed", (100, 0), "91.2% is below min 99%", then=set_metrics(FEW_REQUESTS, LOW_SUCCESS)),
    ])
