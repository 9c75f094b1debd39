"""Router manifests: what each routing API gets for given weights, and that reading it back round-trips."""

from __future__ import annotations

import pytest

from controller.api.routes import PRIMARY_ONLY, Routes
from controller.routers import gateway_api, smi
from controller.routers.registry import UnknownProvider, provider_key
from tests.unit.kubernetes.canaries import AB, canary

AB_COOKIE = "^(.*?;)?(type=insider)(;.*)?$"


@pytest.mark.parametrize("version", smi.VERSIONS)
def test_traffic_split_round_trips_weights_in_every_version(version: str) -> None:
    c = canary()
    split = smi.traffic_split(c, version, Routes(70, 30))
    assert split["apiVersion"] == f"split.smi-spec.io/{version}"
    assert split["metadata"]["name"] == "podinfo"
    assert split["metadata"]["ownerReferences"][0]["uid"] == "u-1"
    assert split["spec"]["service"] == "podinfo"
    backends = {b["service"]: b["weight"] for b in split["spec"]["backends"]}
    expected = {"podinfo-canary": 30, "podinfo-primary": 70}
    if version == "v1alpha1":
        expected = {k: str(v) for k, v in expected.items()}
    assert backends == expected
    assert smi.routes_of(split, c) == Routes(70, 30)


def test_v1alpha1_quantities_are_normalised_to_percent() -> None:
    split = smi.traffic_split(canary(), "v1alpha1", PRIMARY_ONLY)
    split["spec"]["backends"] = [
        {"service": "podinfo-canary", "weight": "250m"},
        {"service": "podinfo-primary", "weight": "750m"},
    ]
    assert smi.routes_of(split, canary()) == Routes(75, 25)


def test_split_with_no_weight_is_an_error() -> None:
    split = smi.traffic_split(canary(), "v1alpha2", PRIMARY_ONLY)
    for backend in split["spec"]["backends"]:
        backend["weight"] = 0
    with pytest.raises(ValueError, match="both zero"):
        smi.routes_of(split, canary())


def test_hosts_name_the_split_service() -> None:
    split = smi.traffic_split(canary(service={"hosts": ["podinfo.example"]}), "v1alpha4", PRIMARY_ONLY)
    assert split["spec"]["service"] == "podinfo.example"


@pytest.mark.parametrize("version", smi.MATCH_VERSIONS)
def test_ab_references_an_http_route_group(version: str) -> None:
    c = canary(AB)
    group = smi.http_route_group(c, version)
    assert group is not None
    assert group["apiVersion"] == f"specs.smi-spec.io/{version}"
    assert group["spec"]["matches"] == [
        {"name": "ab-0", "headers": {"x-canary": "^insider$"}},
        {"name": "ab-1", "headers": {"cookie": "^(.*?;)?(type=insider)(;.*)?$"}},
    ]
    split = smi.traffic_split(c, version, Routes(0, 100, matched=True))
    assert split["spec"]["matches"] == [
        {"kind": "HTTPRouteGroup", "name": "podinfo", "apiGroup": "specs.smi-spec.io"}
    ]
    assert smi.routes_of(split, c) == Routes(0, 100, matched=True)
    assert "matches" not in smi.traffic_split(c, version, PRIMARY_ONLY)["spec"]


@pytest.mark.parametrize("version", ["v1alpha1", "v1alpha2"])
def test_ab_on_old_smi_is_refused_with_a_reason(version: str) -> None:
    assert smi.http_route_group(canary(AB), version) is None
    with pytest.raises(smi.UnsupportedRoutes, match="v1alpha3 or v1alpha4"):
        smi.traffic_split(canary(AB), version, Routes(0, 100, matched=True))


def test_string_matches_become_anchored_regexes() -> None:
    from controller.api.canary import StringMatch

    assert smi.anchored_regex(StringMatch(exact="a.b")) == r"^a\.b$"
    assert smi.anchored_regex(StringMatch(prefix="/api")) == "^/api.*"
    assert smi.anchored_regex(StringMatch(suffix=".js")) == r".*\.js$"
    assert smi.anchored_regex(StringMatch(regex="^x")) == "^x"


def test_http_route_splits_between_primary_and_canary_services() -> None:
    c = canary()
    route = gateway_api.http_route(c, Routes(80, 20))
    assert route["apiVersion"] == "gateway.networking.k8s.io/v1"
    assert route["spec"]["parentRefs"] == [{"group": "", "kind": "Service", "name": "podinfo", "port": 9898}]
    (rule,) = route["spec"]["rules"]
    assert [(b["name"], b["weight"]) for b in rule["backendRefs"]] == [
        ("podinfo-primary", 80),
        ("podinfo-canary", 20),
    ]
    assert gateway_api.routes_of(route, c) == Routes(80, 20)


def test_http_route_ab_rule_matches_headers_and_cookies_and_defaults_to_primary() -> None:
    c = canary(AB)
    route = gateway_api.http_route(c, Routes(0, 100, matched=True))
    ab, default = route["spec"]["rules"]
    assert ab["matches"] == [
        {"headers": [{"type": "Exact", "name": "x-canary", "value": "insider"}]},
        {"headers": [{"type": "RegularExpression", "name": "cookie", "value": AB_COOKIE}]},
    ]
    assert [b["weight"] for b in ab["backendRefs"]] == [0, 100]
    assert [b["weight"] for b in default["backendRefs"]] == [100, 0]
    assert "matches" not in default
    assert gateway_api.routes_of(route, c) == Routes(0, 100, matched=True)


def test_http_route_mirror_filter() -> None:
    c = canary()
    route = gateway_api.http_route(c, Routes(100, 0, mirrored=True, mirror_weight=50))
    (rule,) = route["spec"]["rules"]
    assert rule["filters"] == [
        {
            "type": "RequestMirror",
            "requestMirror": {
                "backendRef": {"group": "", "kind": "Service", "name": "podinfo-canary", "port": 9898},
                "percent": 50,
            },
        }
    ]
    assert gateway_api.routes_of(route, c) == Routes(100, 0, mirrored=True, mirror_weight=50)


def test_http_route_with_gateway_refs_and_hosts() -> None:
    c = canary(
        service={
            "gatewayRefs": [{"name": "public", "namespace": "gw"}],
            "hosts": ["app.example"],
            "timeout": "5s",
        }
    )
    route = gateway_api.http_route(c, PRIMARY_ONLY)
    assert route["spec"]["parentRefs"] == [{"name": "public", "namespace": "gw"}]
    assert route["spec"]["hostnames"] == ["app.example"]
    assert route["spec"]["rules"][0]["timeouts"] == {"request": "5s"}


def test_provider_names() -> None:
    assert provider_key("smi:v1alpha3:linkerd") == "smi:v1alpha3"
    assert provider_key("kubernetes") == "kubernetes"
    with pytest.raises(UnknownProvider, match="one of kubernetes"):
        provider_key("istio")
