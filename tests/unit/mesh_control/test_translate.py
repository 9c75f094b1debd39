"""objects -> proxy config, as tables: each row is what a user creates and what the gateway then does."""

from __future__ import annotations

from typing import Any

import pytest

from mesh.control.annotations import ROUTE_RESILIENCE, SERVICE_RESILIENCE
from mesh.control.translate import node_config
from mesh.proxy.config import parse_config
from tests.unit.mesh_control.objects import (
    NS,
    annotation,
    backend_ref,
    endpoint_slice,
    http_route,
    podinfo,
    route_group,
    service,
    snapshot,
    split,
)

PRIMARY = ["198.18.0.1:9898", "198.18.0.2:9898"]
CANARY = ["198.18.0.3:9898"]


def only_service(snap, **kwargs) -> tuple[dict[str, Any], list[str]]:
    result = node_config(snap, NS, **kwargs)
    services = result.document()["config"]["services"]  # as sent (parse_config fills defaults in)
    assert len(services) == 1, (services, result.problems)
    return services[0], result.problems


def routes(entry: dict[str, Any]) -> list[tuple[str, list, dict]]:
    return [(r["name"], r["match"], r["split"]) for r in entry["routes"]]


SPLITS = [
    # (what is created, default split, routes)
    (
        "v1alpha4 integers",
        split("podinfo", {"podinfo-primary": 90, "podinfo-canary": 10}),
        {"podinfo-primary": 90, "podinfo-canary": 10},
        [],
    ),
    (
        "v1alpha1 quantities",
        split("podinfo", {"podinfo-primary": "900m", "podinfo-canary": "100m"}, "v1alpha1"),
        {"podinfo-primary": 900, "podinfo-canary": 100},
        [],
    ),
    (
        "v1alpha1 whole quantities",
        split("podinfo", {"podinfo-primary": "1", "podinfo-canary": "0"}, "v1alpha1"),
        {"podinfo-primary": 1, "podinfo-canary": 0},
        [],
    ),
    (
        "v1alpha2 relative weights",
        split("podinfo", {"podinfo-primary": 3, "podinfo-canary": 1}, "v1alpha2"),
        {"podinfo-primary": 3, "podinfo-canary": 1},
        [],
    ),
]


@pytest.mark.parametrize(("case", "ts", "default", "expected_routes"), SPLITS, ids=[row[0] for row in SPLITS])
def test_traffic_split_weights_route_straight_to_endpoints(case, ts, default, expected_routes):
    entry, problems = only_service(podinfo(ts), address="198.18.5.5")
    assert problems == []
    assert entry["name"] == "podinfo" and entry["namespace"] == NS
    assert (entry["address"], entry["port"]) == ("198.18.5.5", 9898)  # the apex's targetPort
    assert entry["hosts"] == [
        "podinfo",
        "podinfo.shop",
        "podinfo.shop.svc",
        "podinfo.shop.svc.cluster.local",
        "198.19.0.10",
    ]
    assert entry["backends"]["podinfo-primary"]["endpoints"] == PRIMARY
    assert entry["backends"]["podinfo-canary"]["endpoints"] == CANARY
    assert entry["split"] == default
    assert routes(entry) == expected_routes


HEADER = {"x-canary": {"regex": "^insider$"}}
GROUPS = [
    (
        "map headers",
        route_group("podinfo", [{"name": "ab-0", "headers": {"X-Canary": "^insider$"}}]),
        [{"headers": HEADER}],
    ),
    (
        "list-of-maps headers (sdk-go CRD)",
        route_group("podinfo", [{"name": "a", "headers": [{"x-canary": "^insider$"}]}]),
        [{"headers": HEADER}],
    ),
    (
        "top-level matches (v1alpha2)",
        route_group("podinfo", [{"name": "a", "pathRegex": "/api", "methods": ["GET"]}], top_level=True),
        [{"path": {"regex": "(?:/api).*"}, "method": ["GET"]}],
    ),
    (
        "any method",
        route_group("podinfo", [{"name": "a", "methods": ["*"], "headers": {"x-canary": "^insider$"}}]),
        [{"headers": HEADER}],
    ),
    (
        "two entries are OR-ed",
        route_group(
            "podinfo",
            [{"name": "a", "headers": {"x-canary": "^insider$"}}, {"name": "b", "pathRegex": "/beta/"}],
        ),
        [{"headers": HEADER}, {"path": {"regex": "(?:/beta/).*"}}],
    ),
]


@pytest.mark.parametrize(("case", "group", "matches"), GROUPS, ids=[row[0] for row in GROUPS])
def test_route_group_matches_go_to_the_backends_others_to_the_primary(case, group, matches):
    ts = split("podinfo", {"podinfo-primary": 0, "podinfo-canary": 100}, matches=["podinfo"])
    entry, problems = only_service(podinfo(ts, group))
    assert problems == []
    assert entry["split"] == {"podinfo-primary": 1}
    assert routes(entry) == [("match", matches, {"podinfo-primary": 0, "podinfo-canary": 100})]


def test_a_missing_route_group_matches_nothing_and_says_so():
    ts = split("podinfo", {"podinfo-primary": 0, "podinfo-canary": 100}, matches=["gone"])
    entry, problems = only_service(podinfo(ts))
    assert entry["split"] == {"podinfo-primary": 1} and entry["routes"] == []
    assert problems == ["TrafficSplit shop/podinfo: HTTPRouteGroup 'gone' not found; no requests match it"]


def flagger_route(primary: int, canary: int, matches: list | None = None, **extra: Any) -> dict:
    split_rule = {
        "backendRefs": [backend_ref("podinfo-primary", primary), backend_ref("podinfo-canary", canary)],
        **extra,
    }
    if matches is None:
        return http_route("podinfo", "podinfo", [split_rule])
    return http_route(
        "podinfo",
        "podinfo",
        [
            {"matches": matches, **split_rule},
            {"backendRefs": [backend_ref("podinfo-primary", 100), backend_ref("podinfo-canary", 0)]},
        ],
    )


HTTP_ROUTES = [
    ("weights", flagger_route(80, 20), {"podinfo-primary": 80, "podinfo-canary": 20}, []),
    (
        "A/B header exact",
        flagger_route(0, 100, [{"headers": [{"name": "X-Canary", "value": "insider"}]}]),
        {"podinfo-primary": 100, "podinfo-canary": 0},
        [
            (
                "rule-0",
                [{"headers": {"x-canary": {"exact": "insider"}}}],
                {"podinfo-primary": 0, "podinfo-canary": 100},
            )
        ],
    ),
    (
        "path prefix, regex header and method",
        flagger_route(
            0,
            100,
            [
                {
                    "path": {"type": "PathPrefix", "value": "/api"},
                    "method": "post",
                    "headers": [{"type": "RegularExpression", "name": "user", "value": "a.*"}],
                }
            ],
        ),
        {"podinfo-primary": 100, "podinfo-canary": 0},
        [
            (
                "rule-0",
                [{"path": {"prefix": "/api"}, "headers": {"user": {"regex": "a.*"}}, "method": ["POST"]}],
                {"podinfo-primary": 0, "podinfo-canary": 100},
            )
        ],
    ),
    (
        "a match on / only is a catch-all",
        http_route(
            "podinfo",
            "podinfo",
            [
                {
                    "matches": [{"path": {"type": "PathPrefix", "value": "/"}}],
                    "backendRefs": [backend_ref("podinfo-canary")],
                }
            ],
        ),
        {"podinfo-canary": 1},
        [],
    ),
]


@pytest.mark.parametrize(
    ("case", "route", "default", "expected_routes"), HTTP_ROUTES, ids=[row[0] for row in HTTP_ROUTES]
)
def test_http_route_rules(case, route, default, expected_routes):
    entry, problems = only_service(podinfo(route))
    assert problems == []
    assert entry["split"] == default
    assert routes(entry) == expected_routes
    assert "fault" not in entry["resilience"]


def test_http_route_without_a_catch_all_answers_404_for_the_rest_and_not_for_its_rules():
    route = http_route(
        "podinfo",
        "podinfo",
        [
            {
                "matches": [{"headers": [{"name": "x", "value": "1"}]}],
                "backendRefs": [backend_ref("podinfo-canary")],
            }
        ],
    )
    entry, _ = only_service(podinfo(route))
    assert entry["resilience"]["fault"] == {"abort": {"percent": 100, "status": 404}}
    assert "fault" not in entry["routes"][0]["resilience"]


def test_http_route_timeouts_retries_and_mirror():
    route = flagger_route(
        90,
        10,
        timeouts={"request": "3s", "backendRequest": "1s"},
        retry={"attempts": 2, "codes": [503]},
        filters=[
            {
                "type": "RequestMirror",
                "requestMirror": {"backendRef": backend_ref("podinfo-canary"), "percent": 25},
            }
        ],
    )
    entry, problems = only_service(podinfo(route))
    assert problems == []
    assert entry["resilience"]["timeout"] == "3s"
    assert entry["resilience"]["retries"]["attempts"] == 2
    assert entry["resilience"]["retries"]["per_try_timeout"] == "1s"
    assert entry["resilience"]["retries"]["retry_on"] == ["connect-failure", "reset", "gateway-error"]
    assert entry["mirror"] == {"backend": "podinfo-canary", "percent": 25.0}
    assert parse_config({"services": [entry]}).services[0].resilience.timeout == 3.0


def test_http_route_wins_over_a_traffic_split_for_the_same_apex():
    result = node_config(podinfo(flagger_route(70, 30), split("podinfo", {"podinfo-primary": 1})), NS)
    assert result.document()["config"]["services"][0]["split"] == {
        "podinfo-primary": 70,
        "podinfo-canary": 30,
    }
    assert result.problems == ["TrafficSplit podinfo: podinfo is already routed (HTTPRoute or older split)"]


def test_query_parameter_matches_never_match_rather_than_match_everything():
    route = flagger_route(0, 100, [{"queryParams": [{"name": "beta", "value": "1"}]}])
    entry, problems = only_service(podinfo(route))
    assert entry["routes"] == [] and entry["split"] == {"podinfo-primary": 100, "podinfo-canary": 0}
    assert problems == [
        "HTTPRoute shop/podinfo rule rule-0: query parameter matches are not supported, never match"
    ]


def test_not_ready_endpoints_are_left_out():
    entry, _ = only_service(
        podinfo(split("podinfo", {"podinfo-primary": 50, "podinfo-canary": 50}), canary_ready=False)
    )
    assert entry["backends"]["podinfo-canary"]["endpoints"] == []


def test_a_missing_backend_gets_no_traffic():
    snap = snapshot(
        service("podinfo", 80, 9898),
        service("podinfo-primary", 80, "http"),
        endpoint_slice("podinfo-primary", ["198.18.0.1"], 9898),
        split("podinfo", {"podinfo-primary": 50, "podinfo-canary": 50}),
    )
    entry, problems = only_service(snap)
    assert entry["split"] == {"podinfo-primary": 50, "podinfo-canary": 0}
    assert problems == ["TrafficSplit podinfo: backend Service podinfo-canary not found; it gets no traffic"]


def test_a_split_with_nothing_to_send_to_answers_503():
    entry, _ = only_service(podinfo(split("podinfo", {"podinfo-primary": 0, "podinfo-canary": 0})))
    assert entry["split"] == {"unrouted": 1}
    assert entry["resilience"]["fault"] == {"abort": {"percent": 100, "status": 503}}


def test_a_missing_apex_is_reported_and_other_services_still_served():
    snap = podinfo(split("podinfo", {"podinfo-primary": 1}), split("ghost", {"podinfo-primary": 1}))
    result = node_config(snap, NS)
    assert [s.name for s in result.config.services] == ["podinfo"]
    assert result.problems == ["TrafficSplit ghost: Service shop/ghost not found"]


def test_objects_of_other_namespaces_are_not_served():
    other = split("podinfo", {"podinfo-primary": 1})
    other["metadata"]["namespace"] = "elsewhere"
    assert node_config(podinfo(other), NS).config.services == []
    assert node_config(podinfo(split("podinfo", {"podinfo-primary": 1})), "elsewhere").config.services == []


def test_two_apexes_share_a_port_told_apart_by_host():
    snap = snapshot(
        service("a", 80, 8080, cluster_ip="198.19.0.1"),
        service("b", 80, 8080, cluster_ip="198.19.0.2"),
        service("a-primary", 80, "http"),
        endpoint_slice("a-primary", ["198.18.0.1"]),
        split("a", {"a-primary": 1}),
        split("b", {"a-primary": 1}),
    )
    result = node_config(snap, NS)
    assert [(s.name, s.port, s.hosts[0]) for s in result.config.services] == [
        ("a", 8080, "a"),
        ("b", 8080, "b"),
    ]


def test_resilience_from_annotations_apex_first_then_the_route_object():
    apex = service(
        "podinfo",
        80,
        9898,
        annotations={
            SERVICE_RESILIENCE: annotation({"timeout": "5s", "circuit_breaker": {"max_pending": 10}}),
            ROUTE_RESILIENCE: annotation({"match": {"timeout": "1s", "retries": {"attempts": 3}}}),
        },
    )
    ts = split(
        "podinfo",
        {"podinfo-primary": 90, "podinfo-canary": 10},
        matches=["podinfo"],
        **{SERVICE_RESILIENCE: "timeout: 7s\nfault: {delay: {percent: 10, duration: 50ms}}"},
    )
    snap = podinfo(ts, route_group("podinfo", [{"name": "a", "headers": {"x": "1"}}]))
    snap.services[(NS, "podinfo")] = apex  # type: ignore[index]
    entry, problems = only_service(snap)
    assert problems == []
    live = parse_config({"services": [entry]}).services[0]
    assert live.resilience.timeout == 7.0
    assert live.resilience.circuit_breaker.max_pending == 10
    assert live.resilience.fault.delay.duration == 0.05
    route = live.routes[0].resilience
    assert route.timeout == 1.0 and route.retries.attempts == 3


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("timeout: -1s", "mesh.sluice.dev/resilience: timeout: not a duration: '-1s'"),
        ("[1, 2]", "mesh.sluice.dev/resilience: expected a mapping, got list"),
        (
            '{"retries": {"attempts": 99}}',
            "mesh.sluice.dev/resilience: retries.attempts: Input should be less",
        ),
    ],
)
def test_a_bad_annotation_is_reported_and_ignored(value, message):
    ts = split("podinfo", {"podinfo-primary": 1}, **{SERVICE_RESILIENCE: value})
    entry, problems = only_service(podinfo(ts))
    assert "timeout" not in entry["resilience"]
    assert len(problems) == 1 and message in problems[0], problems


def test_tracing_is_sent_when_configured():
    result = node_config(
        podinfo(), NS, tracing={"collector": "http://127.0.0.1:4318/v1/traces", "sampling": 0.5}
    )
    assert result.document()["config"]["tracing"]["sampling"] == 0.5
    assert result.config.tracing is not None and result.config.tracing.sampling == 0.5


def traffic_target(rules: list[dict], **spec) -> dict:
    return {
        "apiVersion": "access.smi-spec.io/v1alpha3",
        "kind": "TrafficTarget",
        "metadata": {"name": "api", "namespace": NS},
        "spec": {
            "destination": {"kind": "ServiceAccount", "name": "podinfo", "namespace": NS},
            "sources": [{"kind": "ServiceAccount", "name": "frontend", "namespace": NS}],
            "rules": rules,
            **spec,
        },
    }


def test_traffic_targets_resolve_their_route_groups_into_the_proxy_config():
    group = route_group(
        "api-routes",
        [{"name": "read", "methods": ["GET"], "pathRegex": "/api"}, {"name": "write", "methods": ["POST"]}],
    )
    target = traffic_target(
        [
            {"kind": "HTTPRouteGroup", "name": "api-routes", "matches": ["read"]},
            {"kind": "HTTPRouteGroup", "name": "missing"},
        ]
    )
    result = node_config(podinfo(target, group), NS)
    assert result.document()["config"]["traffic_targets"] == [{
        "name": "api", "namespace": NS,
        "destination": {"kind": "ServiceAccount", "name": "podinfo", "namespace": NS},
        "sources": [{"kind": "ServiceAccount", "name": "frontend", "namespace": NS}],
        "rules": [{"name": "api-routes", "matches": [{"path": {"regex": "(?:/api).*"}, "method": ["GET"]}]},
                  {"name": "missing", "matches": [{"path": {"regex": "(?!)"}}]}],
    }]  # fmt: skip
    assert result.problems == [
        "TrafficTarget shop/api: HTTPRouteGroup 'missing' not found; that rule allows nothing"
    ]
    assert result.config.traffic_targets[0].sources[0].name == "frontend"


def test_a_traffic_target_without_sources_is_reported_not_sent():
    result = node_config(podinfo(traffic_target([], sources=[])), NS)
    assert result.document()["config"]["traffic_targets"] == []
    assert "needs a ServiceAccount destination and at least one ServiceAccount source" in result.problems[0]
