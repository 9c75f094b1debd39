"""Canary rollouts under `sluice run`, with real processes and real client traffic through the proxy.

Promotion: the weights step exactly as configured, the rollout Succeeds, the primary then serves the new
version, and the clients, counting every answer, saw no failed request at any point of it. Rollbacks:
errors or latency in the canary make it Failed; traffic is back on the primary and the canary's processes
are stopped.
"""

from __future__ import annotations

import time

import pytest

from controller.platforms.local.processes import is_running
from tests.e2e.local.clients import Clients
from tests.e2e.local.rig import TERMINAL, Rig, canary, duration, success_rate, weights_of, workload
from tests.harness.poll import wait_until

pytestmark = pytest.mark.slow


def start_with_v1(rig: Rig, analysis: dict) -> None:
    rig.apply(workload("v1"), canary(rig.port, analysis))
    rig.start_controller()
    rig.wait_phase("Initialized", timeout=30)


def test_promotion_steps_weights_and_clients_see_no_failed_request(rig: Rig) -> None:
    start_with_v1(rig, {"stepWeight": 20, "maxWeight": 60, "metrics": [success_rate(), duration()]})
    with Clients(rig.port, workers=6, pause=0.005) as clients:
        wait_until(lambda: clients.versions()["v1"] >= 20, timeout=10, what="v1 answering")
        rig.apply(workload("v2"))
        rig.wait_phase("Progressing", timeout=30)
        ci = rig.wait_command("--for", "promoted", "--timeout", "90s")
        status = rig.wait_phase(*TERMINAL, timeout=60)
        assert status.phase == "Succeeded", status.last_reason
        done = time.monotonic()
        assert ci.wait(timeout=30) == 0, ci.communicate()[0]
        wait_until(lambda: clients.versions(begin=done)["v2"] >= 20, timeout=10, what="v2 answering")

    assert weights_of(rig.events()) == [20, 40, 60]
    assert set(clients.versions(begin=done)) == {"v2"}, "the primary now serves v2, and only v2"
    assert set(clients.versions()) == {"v1", "v2"}
    assert clients.failures() == [], f"{len(clients.failures())} of {clients.count()} requests failed"
    assert clients.count() > 1000, "steady load all along"
    assert rig.running("canary") == [], "the canary is scaled to zero"
    assert rig.live_routes()["canary_weight"] == 0


@pytest.mark.parametrize(
    ("app_args", "metric", "reason"),
    [
        (("--error-rate", "0.25"), success_rate(), "request-success-rate"),
        (("--latency", "300ms"), duration(maximum=150), "request-duration"),
    ],
    ids=["errors", "latency"],
)
def test_rollback(rig: Rig, app_args: tuple[str, ...], metric: dict, reason: str) -> None:
    start_with_v1(rig, {"stepWeight": 50, "maxWeight": 50, "metrics": [metric]})
    with Clients(rig.port, workers=4) as clients:
        wait_until(lambda: clients.versions()["v1"] >= 10, timeout=10, what="v1 answering")
        rig.apply(workload("v2", *app_args))
        rig.wait_phase("Progressing", timeout=30)
        ci = rig.wait_command("--for", "promoted", "--timeout", "90s")
        rig.wait_for(lambda s: s.canary_weight == 50, timeout=30, what="canary at 50%")
        canaries = rig.running("canary")
        assert len(canaries) == 1
        status = rig.wait_phase(*TERMINAL, timeout=30)
        rolled_back = time.monotonic()
        assert status.phase == "Failed", status.last_reason
        assert reason in (status.last_reason or "")
        assert ci.wait(timeout=30) == 1, "sluice wait --for promoted: ended otherwise"
        wait_until(lambda: clients.versions(begin=rolled_back)["v1"] >= 20, timeout=10, what="v1 answering")

    assert clients.versions()["v2"] > 0, "the canary did get traffic at 50%"
    assert set(clients.versions(begin=rolled_back)) == {"v1"}, "traffic is back on the primary"
    routes = rig.live_routes()
    assert (routes["primary_weight"], routes["canary_weight"]) == (100, 0)
    wait_until(lambda: rig.running("canary") == [], timeout=15, what="canary processes stopped")
    assert all(not is_running(r.pid, r.start_ticks) for r in canaries)
