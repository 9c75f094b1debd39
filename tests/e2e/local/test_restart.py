"""`sluice run` killed with SIGKILL mid-rollout and started again resumes from status.

Killed twice: the moment the proxy shows weight 20 (in practice just after that tick's status write:
the tick is a few milliseconds), and as soon as the status says Promoting (the new primary processes are
starting). Each restarted controller must go on from the status and the live routes: every weight step
happens once (the events and the proxy's own routes, watched all along, say so), the proxy and the
workload processes are adopted rather than started twice, and the clients never notice.
"""

from __future__ import annotations

from collections import Counter

import pytest

from tests.e2e.local.clients import Clients
from tests.e2e.local.rig import TERMINAL, Rig, WeightWatcher, canary, success_rate, weights_of, workload
from tests.harness.poll import wait_until

pytestmark = pytest.mark.slow


def test_sigkill_mid_rollout_resumes_without_repeating_a_step(rig: Rig) -> None:
    analysis = {"stepWeight": 10, "maxWeight": 50, "metrics": [success_rate()]}
    rig.apply(workload("v1"), canary(rig.port, analysis))
    rig.start_controller()
    rig.wait_phase("Initialized", timeout=30)
    proxy_pid = rig.proxy_pid()
    with Clients(rig.port, workers=3) as clients, WeightWatcher(rig) as weights:
        rig.apply(workload("v2"))
        wait_until(lambda: 20 in weights.seen, timeout=30, interval=0.005, what="live weight 20")
        rig.kill_controller()
        before = {role: {r.pid for r in rig.running(role)} for role in ("primary", "canary")}
        assert len(before["primary"]) == len(before["canary"]) == 1, before

        rig.start_controller()
        rig.wait_for(lambda s: s.canary_weight >= 30, timeout=30, what="the next step after the restart")
        after = {role: {r.pid for r in rig.running(role)} for role in ("primary", "canary")}
        assert after == before, "the restarted controller adopted the processes, none started twice"
        assert rig.proxy_pid() == proxy_pid, "and the proxy"

        rig.wait_phase("Promoting", timeout=30)
        rig.kill_controller()
        rig.start_controller()
        status = rig.wait_phase(*TERMINAL, timeout=60)
        assert status.phase == "Succeeded", status.last_reason
        wait_until(lambda: weights.seen[-1] == 0, timeout=10, what="all traffic back on the primary")

    messages = [e.message for e in rig.events()]
    assert weights_of(rig.events()) == [10, 20, 30, 40, 50], messages
    assert sum(m.startswith("New revision detected") for m in messages) == 1, messages
    assert sum(m.startswith("Starting canary analysis") for m in messages) == 1, "the analysis went on"
    assert weights.seen == [0, 10, 20, 30, 40, 50, 0]
    assert clients.failures() == [], f"{len(clients.failures())} of {clients.count()} failed"
    assert set(clients.versions()) == {"v1", "v2"}
    assert rig.running("canary") == []
    assert len(rig.running("primary")) == 1
    ever = Counter(r.key.role for r in rig.seen.values())
    assert ever == {"primary": 2, "canary": 1}, "ever started: the v1 primary, the canary, the v2 primary"


def test_a_proxy_that_dies_mid_rollout_is_started_again_at_the_current_step(rig: Rig) -> None:
    """The data plane is its own process; when it dies the controller starts it again on the same admin
    port within a sync, restores the canary's weight from status, and the rollout goes on to promotion."""
    import os
    import signal

    analysis = {"stepWeight": 20, "maxWeight": 60, "metrics": [success_rate()]}
    rig.apply(workload("v1"), canary(rig.port, analysis))
    rig.start_controller()
    rig.wait_phase("Initialized", timeout=30)
    first = rig.proxy_pid()
    with Clients(rig.port, workers=3), WeightWatcher(rig) as weights:
        rig.apply(workload("v2"))
        wait_until(lambda: 20 in weights.seen, timeout=30, interval=0.005, what="live weight 20")
        os.killpg(first, signal.SIGKILL)
        wait_until(lambda: rig.proxy_pid() != first, timeout=15, what="a new proxy")
        wait_until(lambda: rig.admin().healthy(), timeout=15, what="the new proxy to answer")
        status = rig.wait_phase(*TERMINAL, timeout=60)
    assert status.phase == "Succeeded", status.last_reason
    after_restart = weights.seen[weights.seen.index(20) :]
    assert 0 not in after_restart[:-1], f"the step was restored, not restarted: {weights.seen}"
    assert after_restart[-1] == 0 and 60 in after_restart, weights.seen
