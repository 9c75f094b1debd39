"""Blue/green and mirroring under `sluice run`: the canary is judged while clients only ever see v1.

Blue/green: during the iterations every client answer comes from the primary; then all traffic switches
to the canary at once (before the primary is updated) and the rollout is promoted. With `mirror: true`
the canary gets a copy of the primary's traffic meanwhile, which it really serves (its own request
counter grows) and on which the metric checks judge it.

Mirroring before a canary's first weight step: the mirror stage sends copies only. A healthy v2 goes on
to be promoted; a v2 failing 25% of requests is rolled back on what it did to mirrored requests alone,
and the clients, whose answers all came from the primary, saw no error at all.
"""

from __future__ import annotations

import json
import time
import urllib.request

import pytest

from tests.e2e.local.clients import Clients
from tests.e2e.local.rig import TERMINAL, Rig, WeightWatcher, canary, duration, success_rate, workload
from tests.harness.poll import wait_until

pytestmark = pytest.mark.slow


def served_by_canary(rig: Rig) -> int:
    """Requests the canary's process served, by its own count (/stats on its port, not via the proxy)."""
    total = 0
    for record in rig.running("canary"):
        with urllib.request.urlopen(f"http://127.0.0.1:{record.port}/stats", timeout=2) as response:
            total += json.loads(response.read())["requests"]
    return total


def start_with_v1(rig: Rig, analysis: dict) -> None:
    rig.apply(workload("v1"), canary(rig.port, analysis))
    rig.start_controller()
    rig.wait_phase("Initialized", timeout=30)


@pytest.mark.parametrize("mirror", [False, True], ids=["plain", "mirrored"])
def test_bluegreen_keeps_traffic_on_the_primary_until_the_switch(rig: Rig, mirror: bool) -> None:
    analysis: dict = {"iterations": 3}
    if mirror:
        analysis |= {"mirror": True, "metrics": [success_rate(), duration()]}
    start_with_v1(rig, analysis)
    with Clients(rig.port, workers=3) as clients, WeightWatcher(rig) as weights:
        wait_until(lambda: clients.versions()["v1"] >= 10, timeout=10, what="v1 answering")
        rig.apply(workload("v2"))
        rig.wait_for(lambda s: s.phase == "Progressing" and s.step >= 1, timeout=30, what="iteration 1")
        iterating = time.monotonic()
        assert rig.live_routes()["mirrored"] is mirror
        status = rig.wait_for(
            lambda s: s.canary_weight == 100 or s.phase != "Progressing", timeout=40, what="the switch"
        )
        assert (status.phase, status.canary_weight) == ("Progressing", 100), status.last_reason
        before_switch, switched = weights.switched_to(100)
        served = served_by_canary(rig)
        rig.wait_phase("Promoting", *TERMINAL, timeout=30)
        promoting = time.monotonic()
        status = rig.wait_phase(*TERMINAL, timeout=30)
        assert status.phase == "Succeeded", status.last_reason
        done = time.monotonic()
        wait_until(lambda: clients.versions(begin=done)["v2"] >= 10, timeout=10, what="v2 answering")

    assert weights.seen[:2] == [0, 100], "one switch, from none of the traffic to all of it"
    iterations = clients.versions(iterating, before_switch)
    assert set(iterations) == {"v1"} and iterations["v1"] > 30, iterations
    assert set(clients.versions(switched, promoting)) <= {"v2"}, "after the switch the canary serves all"
    assert set(clients.versions(begin=done)) == {"v2"}
    assert clients.failures() == []
    if mirror:
        assert served > 30, "the canary served the mirrored copies"


@pytest.mark.parametrize(
    ("app_args", "outcome"), [((), "Succeeded"), (("--error-rate", "0.25"), "Failed")], ids=["good", "bad"]
)
def test_mirror_stage_judges_the_canary_on_copies(rig: Rig, app_args: tuple[str, ...], outcome: str) -> None:
    analysis = {"stepWeight": 50, "maxWeight": 50, "mirror": True, "metrics": [success_rate(), duration()]}
    start_with_v1(rig, analysis)
    with Clients(rig.port, workers=3) as clients, WeightWatcher(rig) as weights:
        wait_until(lambda: clients.versions()["v1"] >= 10, timeout=10, what="v1 answering")
        rig.apply(workload("v2", *app_args))
        status = rig.wait_for(lambda s: s.mirrored, timeout=30, what="the mirror stage")
        mirroring = time.monotonic()
        assert status.canary_weight == 0
        status = rig.wait_for(
            lambda s: not s.mirrored or s.phase in TERMINAL, timeout=30, what="the end of the mirror stage"
        )
        status = rig.wait_phase(*TERMINAL, timeout=40)
    # The mirror stage ends when the proxy first sends clients to the canary (if it ever does).
    stepped = weights.switched_to(50)[0] if 50 in weights.seen else float("inf")
    judged = rig.admin().window("podinfo", "podinfo-canary", 120)  # what the analysis read, and more

    assert status.phase == outcome, status.last_reason
    assert set(clients.versions(mirroring, stepped)) == {"v1"}, "mirrored answers never reach a client"
    assert judged["requests"] > 10
    assert clients.failures() == []
    if outcome == "Failed":
        assert "request-success-rate" in (status.last_reason or "")
        assert clients.versions()["v2"] == 0, "rolled back during the mirror stage: no client saw v2"
        assert judged["errors"] > 0, "the canary failed copies, which no client saw"
