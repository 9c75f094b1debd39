"""Leader election on the real apiserver: two candidate processes, one Lease, one leader at a time.

The candidates authenticate as a ServiceAccount bound to exactly the Lease rules of the chart's Role, so the
test also proves those verbs are enough. Leases are 3 s here (production: 15 s), so the whole file runs in
seconds; the bounds below are the ones client-go's algorithm guarantees, scaled the same way.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from controller.runtime.leader import JITTER, LeaseTiming
from tests.harness import processes
from tests.harness.poll import wait_until
from tests.integration.kubernetes.rollouts import (  # noqa: F401
    SUCCESS_RATE,
    Cluster,
    FakePrometheus,
    WeightRecorder,
    canary,
    cluster_fixture,
    deployment,
    prometheus_fixture,
)
from tests.unit.chart.helm import find, template

LEASE = "sluice-leader"
DURATION = 3
TIMING = LeaseTiming.scaled(DURATION)
LEASE_RULES = [
    {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"], "verbs": ["get", "create", "update"]}
]
REPO = Path(__file__).resolve().parents[3]


_DECODER = json.JSONDecoder()

class Candidate:
    def __init__(self, identity: str, log: Path, proc: Any) -> None:
        self.identity, self.log, self.proc = identity, log, proc

    def events(self) -> list[dict[str, Any]]:
        if not self.log.exists():
            return []
        events = []
        for line in self.log.read_text().splitlines():
            if line.startswith("{") and '"event"' in line:
                # The first object only: stderr output can land on the same line as a JSON log line.
                with contextlib.suppress(ValueError):
                    events.append(_DECODER.raw_decode(line)[0])
        return events

    def first(self, event: str) -> dict[str, Any] | None:
        return next((e for e in self.events() if e["event"] == event), None)


@pytest.fixture
def candidates(
    tmp_path: Path,
    k8s_namespace: str,
    k8s_sa_token: Callable[..., str],
    k8s_kubeconfig_for_token: Callable[[str], Path],
) -> Iterator[Callable[[str], Candidate]]:
    kubeconfig = k8s_kubeconfig_for_token(k8s_sa_token("sluice-leader", rules=LEASE_RULES))
    started: list[Candidate] = []

    def start(identity: str) -> Candidate:
        log = tmp_path / f"{identity}.log"
        args = processes.python_module(
            "tests.integration.kubernetes.leader_candidate",
            str(kubeconfig),
            k8s_namespace,
            LEASE,
            identity,
            str(DURATION),
        )
        proc = processes.start(args, log, cwd=REPO, env={"PYTHONPATH": str(REPO)})
        candidate = Candidate(identity, log, proc)
        started.append(candidate)
        return candidate

    yield start
    for candidate in started:
        processes.stop(candidate.proc)


def _lease(k8s_api: Any, namespace: str) -> Any:
    from kubernetes import client

    return client.CoordinationV1Api(k8s_api).read_namespaced_lease(LEASE, namespace)


def _leader(a: Candidate, b: Candidate) -> tuple[Candidate, Candidate] | None:
    if a.first("started"):
        return a, b
    if b.first("started"):
        return b, a
    return None


def test_one_leads_and_sigkill_hands_over_within_the_lease_duration(
    candidates: Callable[[str], Candidate], k8s_api: Any, k8s_namespace: str
) -> None:
    a, b = candidates("replica-a"), candidates("replica-b")
    leader, standby = wait_until(lambda: _leader(a, b), timeout=30, what="a leader")
    wait_until(lambda: standby.first("campaigning"), timeout=30, what="the standby campaigning")
    assert _lease(k8s_api, k8s_namespace).spec.holder_identity == leader.identity

    # Several renewals later the standby still has not started: one leader at a time.
    renewed = _lease(k8s_api, k8s_namespace).spec.renew_time
    wait_until(lambda: _lease(k8s_api, k8s_namespace).spec.renew_time != renewed, timeout=5, what="a renewal")
    assert standby.first("started") is None

    transitions = _lease(k8s_api, k8s_namespace).spec.lease_transitions or 0
    killed_at = time.time()
    os.kill(leader.proc.pid, signal.SIGKILL)  # no release, no goodbye: like a node failure
    leader.proc.wait(timeout=10)

    started = wait_until(lambda: standby.first("started"), timeout=30, what="the standby to take over")
    takeover = started["t"] - killed_at
    # The standby must wait a full lease duration after it last saw the record change; it sees changes at
    # most one jittered retry period late and acts at its next attempt.
    bound = TIMING.lease_duration + 2 * (1 + JITTER) * TIMING.retry_period + 1.0
    print(f"leader_takeover_seconds={takeover:.2f} lease={TIMING.lease_duration:g}s bound={bound:.2f}s")
    assert takeover <= bound, f"takeover took {takeover:.2f}s (bound {bound:.2f}s)"
    assert takeover >= TIMING.lease_duration - 2 * TIMING.retry_period, "took over before the lease expired"

    lease = _lease(k8s_api, k8s_namespace)
    assert lease.spec.holder_identity == standby.identity
    assert lease.spec.lease_transitions == transitions + 1


def test_sigterm_releases_the_lease_for_a_fast_handover(
    candidates: Callable[[str], Candidate], k8s_api: Any, k8s_namespace: str
) -> None:
    a, b = candidates("replica-a"), candidates("replica-b")
    leader, standby = wait_until(lambda: _leader(a, b), timeout=30, what="a leader")
    wait_until(lambda: standby.first("campaigning"), timeout=30, what="the standby campaigning")

    stopped_at = time.time()
    os.kill(leader.proc.pid, signal.SIGTERM)
    leader.proc.wait(timeout=10)
    assert leader.first("stopped") is not None, "the leader did not report stepping down"

    started = wait_until(lambda: standby.first("started"), timeout=30, what="the standby to take over")
    handover = started["t"] - stopped_at
    print(f"leader_release_handover_seconds={handover:.2f}")
    # Released: the standby takes it at its next attempt, well before the lease would have expired.
    assert handover < TIMING.lease_duration, f"handover took {handover:.2f}s despite the release"
    assert _lease(k8s_api, k8s_namespace).spec.holder_identity == standby.identity


# ------------------------------------------------------------------------------------------- HA rollout


def split_weight(cluster: Cluster, name: str = "podinfo") -> int | None:
    split = cluster.get("split.smi-spec.io/v1alpha4", "trafficsplits", name)
    if split is None:
        return None
    return next(int(b["weight"]) for b in split["spec"]["backends"] if b["service"] == f"{name}-canary")


def _readyz(port: int) -> int:
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def test_killing_the_leader_mid_rollout_the_standby_finishes_it_applying_each_weight_once(
    tmp_path: Path,
    cluster: Cluster,
    prometheus: FakePrometheus,
    k8s_sa_token: Callable[..., str],
    k8s_kubeconfig_for_token: Callable[[str], Path],
) -> None:
    documents = template("leaderElection.enabled=true", namespace=cluster.namespace)
    (cluster_role,) = find(documents, "ClusterRole")
    (lease_role,) = find(documents, "Role")
    token = k8s_sa_token("sluice", rules=lease_role["rules"], cluster_rules=cluster_role["rules"])
    kubeconfig = k8s_kubeconfig_for_token(token)

    cluster.create("apps/v1", "deployments", deployment("podinfo"))
    analysis = {"interval": "1s", "threshold": 2, "stepWeight": 10, "maxWeight": 50, "metrics": SUCCESS_RATE}
    cluster.create("sluice.dev/v1beta1", "canaries", canary("podinfo", analysis, prometheus.url))

    replicas: list[Candidate] = []
    try:
        for identity in ("replica-a", "replica-b"):
            log = tmp_path / f"{identity}.log"
            args = processes.python_module(
                "tests.integration.kubernetes.leader_controller",
                str(kubeconfig), cluster.namespace, identity, str(DURATION),
            )  # fmt: skip
            env = {"PYTHONPATH": str(REPO)}
            replicas.append(Candidate(identity, log, processes.start(args, log, cwd=REPO, env=env)))
        leader, standby = wait_until(lambda: _leader(*replicas), timeout=30, what="a leader")
        ports = {
            c.identity: wait_until(lambda c=c: c.first("campaigning"), timeout=30)["port"] for c in replicas
        }
        wait_until(lambda: _readyz(ports[leader.identity]) == 200, timeout=30, what="the leader ready")
        assert _readyz(ports[standby.identity]) == 503, "the standby must not report ready"

        cluster.wait_phase("podinfo", "Initialized", timeout=60)
        recorder = WeightRecorder(lambda: split_weight(cluster))
        cluster.set_image("podinfo", "example.invalid/podinfo:2")
        wait_until(lambda: (split_weight(cluster) or 0) >= 20, timeout=60, what="the rollout under way")
        os.kill(leader.proc.pid, signal.SIGKILL)
        leader.proc.wait(timeout=10)
        killed_at = time.time()

        started = wait_until(lambda: standby.first("started"), timeout=30, what="the standby to take over")
        print(f"ha_takeover_seconds={started['t'] - killed_at:.2f}")
        cluster.wait_phase("podinfo", "Succeeded", timeout=120)
        seen = recorder.stop()
        assert seen == [0, 10, 20, 30, 40, 50, 0], f"each weight once, in order: {seen}"
        assert cluster.image("podinfo-primary") == "example.invalid/podinfo:2"
        assert _readyz(ports[standby.identity]) == 200
    finally:
        for replica in replicas:
            processes.stop(replica.proc)
