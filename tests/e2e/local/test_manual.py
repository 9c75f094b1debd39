"""Manual commands and gates, through the real CLI (`sluice abort|promote`) and the real loadtester.

`sluice abort` rolls a healthy rollout back at once; `sluice promote` skips the rest of a long analysis;
`sluice pause` holds the weight tick after tick until `sluice resume`; a confirm-promotion gate on the
loadtester's /gate/check holds the rollout in WaitingPromotion, tick after tick (counted on the
controller's /metrics), until `sluice promote` (or /gate/open) lets it go.
"""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Iterator
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


def test_pause_holds_the_weight_until_resume(rig: Rig) -> None:
    start_with_v1(rig, {"stepWeight": 25, "maxWeight": 50, "metrics": [success_rate()]})
    with Clients(rig.port) as clients:
        rig.apply(workload("v2"))
        rig.wait_for(lambda s: s.canary_weight == 25, timeout=30, what="canary at 25%")
        rig.command("pause")
        paused = rig.wait_for(lambda s: s.paused, timeout=15, what="paused")
        rig.wait_ticks(3)
        held = rig.status()
        assert (held.phase, held.paused, held.canary_weight) == ("Progressing", True, paused.canary_weight)
        assert rig.live_routes()["canary_weight"] == paused.canary_weight
        rig.command("resume")
        status = rig.wait_phase(*TERMINAL, timeout=30)

    assert status.phase == "Succeeded", status.last_reason
    assert weights_of(rig.events()) == [25, 50], [f"{e.reason}: {e.message}" for e in rig.events()]
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
        rig.wait_phase("WaitingPromotion", timeout=30)
        rig.wait_ticks(3)
        status = rig.status()
        assert status.phase == "WaitingPromotion", "still waiting, three ticks later"
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
