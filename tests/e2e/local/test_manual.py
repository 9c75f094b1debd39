"""Manual commands and gates, through the real CLI (`sluice abort|promote`) and the real loadtester.

`sluice abort` rolls a healthy rollout back at once; `sluice promote` skips the rest of a long analysis;
a confirm-promotion gate on the loadtester's /gate/check holds the rollout in WaitingPromotion, tick after
tick, until `sluice promote` (or /gate/open) lets it go.
"""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.e2e.local.clients import Clients
from tests.e2e.local.rig import NAME, NAMESPACE, TERMINAL, Rig, canary, success_rate, weights_of, workload
from tests.harness.net import free_port, wait_for_http
from tests.harness.poll import wait_until
from tests.harness.processes import python_module, running

pytestmark = pytest.mark.slow

# Twenty steps of 5%: far more than a test waits for, so only a manual command can end the run early.
LONG = {"stepWeight": 5, "maxWeight": 100, "metrics": [success_rate()]}


def start_with_v1(rig: Rig, analysis: dict) -> None:
    rig.apply(workload("v1"), canary(rig.port, analysis))
    rig.start_controller()
    rig.wait_phase("Initialized", timeout=30)


def test_abort_rolls_back_at_once(rig: Rig) -> None:
    start_with_v1(rig, LONG)
    with Clients(rig.port) as clients:
        rig.apply(workload("v2"))
        rig.wait_for(lambda s: s.canary_weight >= 10, timeout=30, what="canary at 10%")
        rig.command("abort")
        status = rig.wait_phase(*TERMINAL, timeout=15)
        aborted = time.monotonic()
        wait_until(lambda: clients.versions(begin=aborted)["v1"] >= 10, timeout=10, what="v1 answering")

    assert status.phase == "Failed"
    assert "abort" in (status.last_reason or "")
    assert weights_of(rig.events())[-1] < 100, "it never got near the end of the analysis"
    assert set(clients.versions(begin=aborted)) == {"v1"}
    assert (rig.live_routes()["primary_weight"], rig.live_routes()["canary_weight"]) == (100, 0)
    wait_until(lambda: rig.running("canary") == [], timeout=15, what="canary processes stopped")
    assert clients.failures() == []


def test_promote_skips_the_rest_of_the_analysis(rig: Rig) -> None:
    start_with_v1(rig, LONG)
    with Clients(rig.port) as clients:
        rig.apply(workload("v2"))
        rig.wait_for(lambda s: s.canary_weight >= 10, timeout=30, what="canary at 10%")
        rig.command("promote")
        status = rig.wait_phase(*TERMINAL, timeout=30)
        done = time.monotonic()
        wait_until(lambda: clients.versions(begin=done)["v2"] >= 10, timeout=10, what="v2 answering")

    assert status.phase == "Succeeded", status.last_reason
    assert max(weights_of(rig.events())) < 100
    assert set(clients.versions(begin=done)) == {"v2"}
    assert clients.failures() == []


@pytest.fixture
def loadtester(tmp_path: Path) -> Iterator[str]:
    port = free_port()
    argv = python_module("controller.cli.main", "loadtester", "--port", str(port))
    with running(argv, tmp_path / "loadtester.log"):
        url = f"http://127.0.0.1:{port}"
        wait_for_http(f"{url}/healthz")
        yield url


def gate(url: str, action: str) -> int:
    body = json.dumps({"name": NAME, "namespace": NAMESPACE}).encode()
    request = urllib.request.Request(f"{url}/gate/{action}", data=body, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def held_for(seconds: float):
    """A status predicate: WaitingPromotion on the gate for at least `seconds`."""

    def check(status) -> bool:
        if status.phase != "WaitingPromotion" or not status.waiting_since:
            return False
        since = datetime.fromisoformat(status.waiting_since.replace("Z", "+00:00"))
        return (datetime.now(UTC) - since).total_seconds() >= seconds

    return check


@pytest.mark.parametrize("release", ["sluice promote", "gate open"])
def test_confirm_promotion_gate_waits_for_approval(rig: Rig, loadtester: str, release: str) -> None:
    gated = {
        "stepWeight": 50,
        "maxWeight": 50,
        "metrics": [success_rate()],
        "webhooks": [{"name": "approve", "type": "confirm-promotion", "url": f"{loadtester}/gate/check"}],
    }
    start_with_v1(rig, gated)
    with Clients(rig.port) as clients:
        rig.apply(workload("v2"))
        status = rig.wait_for(held_for(4), timeout=30, what="WaitingPromotion for 4s")
        assert "confirm-promotion" in (status.last_reason or ""), status.last_reason
        assert gate(loadtester, "check") == 403, "the gate is still closed"
        assert rig.live_routes()["canary_weight"] == 50, "the canary keeps its weight while it waits"
        if release == "sluice promote":
            rig.command("promote")
        else:
            assert gate(loadtester, "open") == 202
        status = rig.wait_phase(*TERMINAL, timeout=30)
        done = time.monotonic()
        wait_until(lambda: clients.versions(begin=done)["v2"] >= 10, timeout=10, what="v2 answering")

    assert status.phase == "Succeeded", status.last_reason
    assert set(clients.versions(begin=done)) == {"v2"}
    assert clients.failures() == []
