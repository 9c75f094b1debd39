"""Canary rollouts on the real control plane, as a user sees them (reference/flagger.md §4 scenarios 1, 5, 8).

A Deployment and a Canary go in; the controller (in-process, talking to the real API server) makes the
primary, the Services and the TrafficSplit, steps the weights on every SMI apiVersion, promotes or rolls
back. Metric verdicts come from a fake Prometheus on 127.0.0.1.
"""

from __future__ import annotations

import pytest

from controller.routers import smi
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
    running_controller,
)


def split_weight(cluster: Cluster, version: str, name: str = "podinfo") -> int | None:
    split = cluster.get(f"split.smi-spec.io/{version}", "trafficsplits", name)
    if split is None:
        return None
    weights = {b["service"]: b["weight"] for b in split["spec"]["backends"]}
    return int(smi._percent_of(weights[f"{name}-canary"]))


@pytest.mark.parametrize("version", smi.VERSIONS)
def test_canary_initializes_then_promotes_stepping_the_traffic_split(
    cluster: Cluster, prometheus: FakePrometheus, version: str
) -> None:
    cluster.create("apps/v1", "deployments", deployment("podinfo"))
    analysis = {"interval": "1s", "threshold": 2, "stepWeight": 25, "maxWeight": 50, "metrics": SUCCESS_RATE}
    body = canary("podinfo", analysis, prometheus.url, provider=f"smi:{version}")
    cluster.create("sluice.dev/v1beta1", "canaries", body)
    with running_controller(cluster.api, cluster.namespace):
        cluster.wait_phase("podinfo", "Initialized")
        primary = cluster.deployment("podinfo-primary")
        assert primary["spec"]["selector"]["matchLabels"] == {"app": "podinfo-primary"}
        assert primary["metadata"]["ownerReferences"][0]["kind"] == "Canary"
        assert cluster.replicas("podinfo-primary") == 2
        assert cluster.replicas("podinfo") == 0
        selectors = {
            name: cluster.get("v1", "services", name)["spec"]["selector"]  # type: ignore[index]
            for name in ("podinfo", "podinfo-primary", "podinfo-canary")
        }
        assert selectors == {
            "podinfo": {"app": "podinfo-primary"},
            "podinfo-primary": {"app": "podinfo-primary"},
            "podinfo-canary": {"app": "podinfo"},
        }
        assert split_weight(cluster, version) == 0

        recorder = WeightRecorder(lambda: split_weight(cluster, version))
        cluster.set_image("podinfo", "example.invalid/podinfo:2")
        cluster.wait_phase("podinfo", "Succeeded", timeout=90)
        assert recorder.stop() == [0, 25, 50, 0]
        assert cluster.image("podinfo-primary") == "example.invalid/podinfo:2"
        assert cluster.replicas("podinfo") == 0
        assert cluster.replicas("podinfo-primary") == 2
        events = cluster.events("podinfo")
        assert f"Advance podinfo.{cluster.namespace} canary weight 25" in events, events


def test_a_new_revision_mid_run_resets_the_weights_and_promotes_the_newest(
    cluster: Cluster, prometheus: FakePrometheus
) -> None:
    cluster.create("apps/v1", "deployments", deployment("podinfo"))
    analysis = {"interval": "1s", "threshold": 2, "stepWeight": 10, "maxWeight": 50, "metrics": SUCCESS_RATE}
    cluster.create("sluice.dev/v1beta1", "canaries", canary("podinfo", analysis, prometheus.url))
    with running_controller(cluster.api, cluster.namespace):
        cluster.wait_phase("podinfo", "Initialized")
        recorder = WeightRecorder(lambda: split_weight(cluster, "v1alpha4"))
        cluster.set_image("podinfo", "example.invalid/podinfo:2")
        wait_until(lambda: (split_weight(cluster, "v1alpha4") or 0) >= 20, timeout=30, what="weight 20")
        cluster.set_image("podinfo", "example.invalid/podinfo:3")
        cluster.wait_phase("podinfo", "Succeeded", timeout=90)
        seen = recorder.stop()
        restart = seen.index(0, 1)
        assert seen[restart:] == [0, 10, 20, 30, 40, 50, 0], seen
        assert seen[:restart] == sorted(seen[:restart]) and seen[restart - 1] >= 20, seen
        assert cluster.image("podinfo-primary") == "example.invalid/podinfo:3"
