"""A/B and blue/green on the real control plane (reference/flagger.md §4 scenarios 13, 14), and canary
weights on Gateway API HTTPRoutes.

A/B on SMI is sluice's own (Flagger never did it): the analysis match becomes an HTTPRouteGroup and the
TrafficSplit references it while the canary gets the matched requests. Blue/green with provider
`kubernetes` switches the apex Service's selector to the canary before promotion and back after it.
"""

from __future__ import annotations

from typing import Any

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

MATCH = [{"headers": {"x-canary": {"exact": "insider"}}}]
AB = {"interval": "1s", "threshold": 2, "iterations": 3, "match": MATCH, "metrics": SUCCESS_RATE}


def _split_state(cluster: Cluster) -> Any:
    split = cluster.get("split.smi-spec.io/v1alpha4", "trafficsplits", "podinfo")
    if split is None:
        return None
    weights = {b["service"]: b["weight"] for b in split["spec"]["backends"]}
    return bool(split["spec"].get("matches")), weights["podinfo-canary"]


def _route_state(cluster: Cluster) -> Any:
    route = cluster.get("gateway.networking.k8s.io/v1", "httproutes", "podinfo")
    if route is None:
        return None
    rule = route["spec"]["rules"][0]
    weights = {b["name"]: b["weight"] for b in rule["backendRefs"]}
    return "matches" in rule, weights["podinfo-canary"]


def test_ab_on_smi_routes_matched_requests_through_an_http_route_group(
    cluster: Cluster, prometheus: FakePrometheus
) -> None:
    cluster.create("apps/v1", "deployments", deployment("podinfo"))
    cluster.create(
        "sluice.dev/v1beta1", "canaries", canary("podinfo", AB, prometheus.url, provider="smi:v1alpha4")
    )
    with running_controller(cluster.api, cluster.namespace):
        cluster.wait_phase("podinfo", "Initialized")
        group = cluster.get("specs.smi-spec.io/v1alpha4", "httproutegroups", "podinfo")
        assert group is not None
        assert group["spec"]["matches"] == [{"name": "ab-0", "headers": {"x-canary": "^insider$"}}]
        recorder = WeightRecorder(lambda: _split_state(cluster))
        cluster.set_image("podinfo", "example.invalid/podinfo:2")
        cluster.wait_phase("podinfo", "Progressing")
        split = cluster.get("split.smi-spec.io/v1alpha4", "trafficsplits", "podinfo")
        cluster.wait_phase("podinfo", "Succeeded", timeout=90)
        assert recorder.stop() == [(False, 0), (True, 100), (False, 0)]
        assert split is not None
        assert cluster.image("podinfo-primary") == "example.invalid/podinfo:2"
        assert f"Advance podinfo.{cluster.namespace} canary iteration 3/3" in cluster.events("podinfo")


def test_ab_on_gateway_api_adds_a_header_rule_to_the_http_route(
    cluster: Cluster, prometheus: FakePrometheus
) -> None:
    cluster.create("apps/v1", "deployments", deployment("podinfo"))
    cluster.create(
        "sluice.dev/v1beta1", "canaries", canary("podinfo", AB, prometheus.url, provider="gatewayapi:v1")
    )
    with running_controller(cluster.api, cluster.namespace):
        cluster.wait_phase("podinfo", "Initialized")
        recorder = WeightRecorder(lambda: _route_state(cluster))
        cluster.set_image("podinfo", "example.invalid/podinfo:2")

        def two_rules() -> bool:
            route = cluster.get("gateway.networking.k8s.io/v1", "httproutes", "podinfo") or {}
            return len(route["spec"]["rules"]) == 2

        wait_until(two_rules, timeout=30, what="the A/B rule")
        route = cluster.get("gateway.networking.k8s.io/v1", "httproutes", "podinfo")
        assert route is not None
        assert route["spec"]["rules"][0]["matches"] == [
            {"headers": [{"type": "Exact", "name": "x-canary", "value": "insider"}]}
        ]
        assert route["spec"]["parentRefs"] == [
            {"group": "", "kind": "Service", "name": "podinfo", "port": 9898}
        ]
        cluster.wait_phase("podinfo", "Succeeded", timeout=90)
        assert recorder.stop() == [(False, 0), (True, 100), (False, 0)]


def test_canary_weights_step_on_the_http_route(cluster: Cluster, prometheus: FakePrometheus) -> None:
    cluster.create("apps/v1", "deployments", deployment("podinfo"))
    analysis = {"interval": "1s", "threshold": 2, "stepWeights": [10, 40], "metrics": SUCCESS_RATE}
    cluster.create(
        "sluice.dev/v1beta1", "canaries", canary("podinfo", analysis, prometheus.url, provider="gatewayapi")
    )
    with running_controller(cluster.api, cluster.namespace):
        cluster.wait_phase("podinfo", "Initialized")
        recorder = WeightRecorder(lambda: _route_state(cluster))
        cluster.set_image("podinfo", "example.invalid/podinfo:2")
        cluster.wait_phase("podinfo", "Succeeded", timeout=90)
        assert recorder.stop() == [(False, 0), (False, 10), (False, 40), (False, 0)]


def test_blue_green_with_provider_kubernetes_switches_the_apex_selector(
    cluster: Cluster, prometheus: FakePrometheus
) -> None:
    cluster.create("apps/v1", "deployments", deployment("podinfo"))
    analysis = {"interval": "1s", "threshold": 2, "iterations": 2, "metrics": SUCCESS_RATE}
    cluster.create(
        "sluice.dev/v1beta1", "canaries", canary("podinfo", analysis, prometheus.url, provider="kubernetes")
    )
    with running_controller(cluster.api, cluster.namespace):
        cluster.wait_phase("podinfo", "Initialized")

        def apex_selects() -> str | None:
            service = cluster.get("v1", "services", "podinfo")
            return service["spec"]["selector"]["app"] if service else None

        recorder = WeightRecorder(apex_selects)
        cluster.set_image("podinfo", "example.invalid/podinfo:2")
        cluster.wait_phase("podinfo", "Succeeded", timeout=90)
        assert recorder.stop() == ["podinfo-primary", "podinfo", "podinfo-primary"]
        assert cluster.image("podinfo-primary") == "example.invalid/podinfo:2"
        assert cluster.replicas("podinfo") == 0
        assert cluster.get("split.smi-spec.io/v1alpha4", "trafficsplits", "podinfo") is None


def test_mirroring_on_gateway_api_mirrors_first_then_splits(
    cluster: Cluster, prometheus: FakePrometheus
) -> None:
    cluster.create("apps/v1", "deployments", deployment("podinfo"))
    analysis = {"interval": "1s", "threshold": 2, "stepWeight": 50, "mirror": True, "metrics": SUCCESS_RATE}
    cluster.create(
        "sluice.dev/v1beta1", "canaries", canary("podinfo", analysis, prometheus.url, provider="gatewayapi")
    )

    def mirrored_and_weight() -> Any:
        route = cluster.get("gateway.networking.k8s.io/v1", "httproutes", "podinfo")
        if route is None:
            return None
        rule = route["spec"]["rules"][0]
        mirrored = any(f["type"] == "RequestMirror" for f in rule.get("filters", []))
        return mirrored, {b["name"]: b["weight"] for b in rule["backendRefs"]}["podinfo-canary"]

    with running_controller(cluster.api, cluster.namespace):
        cluster.wait_phase("podinfo", "Initialized")
        recorder = WeightRecorder(mirrored_and_weight)
        cluster.set_image("podinfo", "example.invalid/podinfo:2")
        cluster.wait_phase("podinfo", "Succeeded", timeout=90)
        assert recorder.stop() == [(False, 0), (True, 0), (False, 50), (False, 100), (False, 0)]
