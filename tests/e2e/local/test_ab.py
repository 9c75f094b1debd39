"""A/B testing under `sluice run`: during the iterations only requests with the header reach the canary.

Two groups of clients run side by side, with and without the header, and every answer says which version
served it. Between the first iteration being recorded and the promotion starting, clients without the
header must have seen only v1 and clients with it only v2.
"""

from __future__ import annotations

import time

import pytest

from tests.e2e.local.clients import Clients
from tests.e2e.local.rig import TERMINAL, Rig, canary, success_rate, workload
from tests.harness.poll import wait_until

pytestmark = pytest.mark.slow

HEADER = {"x-canary": "insider"}


def test_only_requests_with_the_header_reach_the_canary(rig: Rig) -> None:
    analysis = {
        "iterations": 4,
        "match": [{"headers": {"x-canary": {"exact": "insider"}}}],
        "metrics": [success_rate()],
    }
    rig.apply(workload("v1"), canary(rig.port, analysis))
    rig.start_controller()
    rig.wait_phase("Initialized", timeout=30)
    with Clients(rig.port, workers=2) as plain, Clients(rig.port, workers=2, headers=HEADER) as insiders:
        wait_until(lambda: insiders.versions()["v1"] >= 10, timeout=10, what="v1 answering")
        rig.apply(workload("v2"))
        rig.wait_for(lambda s: s.phase == "Progressing" and s.step >= 1, timeout=30, what="iteration 1")
        iterating = time.monotonic()
        assert rig.live_routes()["matched"] is True
        assert rig.status().canary_weight == 0, "the canary's share of all traffic stays 0 during A/B"
        rig.wait_for(lambda s: s.phase not in ("Progressing",), timeout=30, what="iterations done")
        promoting = time.monotonic()
        status = rig.wait_phase(*TERMINAL, timeout=30)
        assert status.phase == "Succeeded", status.last_reason
        done = time.monotonic()
        wait_until(lambda: plain.versions(begin=done)["v2"] >= 10, timeout=10, what="v2 for everyone")

    during_plain = plain.versions(iterating, promoting)
    during_insiders = insiders.versions(iterating, promoting)
    assert set(during_plain) == {"v1"} and during_plain["v1"] > 20, during_plain
    assert set(during_insiders) == {"v2"} and during_insiders["v2"] > 20, during_insiders
    assert set(plain.versions(begin=done)) == set(insiders.versions(begin=done)) == {"v2"}
    assert plain.failures() == insiders.failures() == []
