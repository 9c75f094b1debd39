"""Service ports (portDiscovery, targetPort by name or number), labels copied to the primary, and what
provider `kubernetes` refuses to do."""

from __future__ import annotations

import pytest

from controller.api.routes import Routes
from controller.platforms.kubernetes.platform import KubernetesPlatform
from controller.platforms.kubernetes.services import ports
from controller.routers.kubernetes_service import KubernetesServiceRouter
from controller.routers.smi import UnsupportedRoutes
from tests.unit.kubernetes.canaries import canary

TEMPLATE = {
    "spec": {
        "containers": [
            {
                "name": "app",
                "ports": [{"containerPort": 9898, "name": "http"}, {"containerPort": 9797, "name": "prom"}],
            },
            {"name": "istio-proxy", "ports": [{"containerPort": 15090}]},
            {"name": "worker", "ports": [{"containerPort": 8081}]},
        ]
    }
}


def test_main_port_defaults_and_target_port_by_name() -> None:
    assert ports(canary(service={"targetPort": "http"}), TEMPLATE) == [
        {"name": "http", "port": 9898, "targetPort": "http", "protocol": "TCP"}
    ]
    (main,) = ports(canary(service={"portName": "grpc", "appProtocol": "grpc"}), TEMPLATE)
    assert main == {
        "name": "grpc",
        "port": 9898,
        "targetPort": 9898,
        "protocol": "TCP",
        "appProtocol": "grpc",
    }


def test_port_discovery_adds_container_ports_but_not_the_main_one_or_sidecars() -> None:
    discovered = ports(canary(service={"portDiscovery": True, "targetPort": "http"}), TEMPLATE)
    assert [(p["name"], p["port"]) for p in discovered] == [
        ("http", 9898),
        ("prom", 9797),
        ("tcp-8081", 8081),
    ]


@pytest.mark.parametrize(
    ("prefixes", "kept"),
    [
        (("*",), {"app", "team", "version"}),
        (("team",), {"team"}),
        (("app", "version"), {"app", "version"}),
    ],
)
def test_include_label_prefix_decides_what_the_primary_gets(
    prefixes: tuple[str, ...], kept: set[str]
) -> None:
    platform = KubernetesPlatform(kube=None, include_label_prefixes=prefixes)  # type: ignore[arg-type]
    labels = {"app": "podinfo", "team": "web", "version": "2", "kustomize.toolkit.fluxcd.io/name": "apps"}
    assert set(platform._copied(labels)) == kept


@pytest.mark.parametrize(
    "routes",
    [Routes(90, 10), Routes(0, 100, matched=True), Routes(100, 0, mirrored=True)],
)
def test_provider_kubernetes_refuses_what_a_selector_cannot_do(routes: Routes) -> None:
    router = KubernetesServiceRouter(api=None)  # type: ignore[arg-type]
    with pytest.raises(UnsupportedRoutes, match="use iterations"):
        router.set_routes(canary(), routes)


def test_a_meshed_canary_hands_its_apex_to_the_gateway_others_to_the_primary() -> None:
    from controller.platforms.kubernetes.services import apex_selector

    gateway = {"app": "sluice-proxy"}
    assert apex_selector(canary(provider="sluice"), "smi:v1alpha4", "app", "podinfo") == gateway
    assert apex_selector(canary(), "sluice", "app", "podinfo") == gateway
    assert apex_selector(canary(), "smi:v1alpha4", "app", "podinfo") == {"app": "podinfo-primary"}
    assert apex_selector(canary(provider="gatewayapi:v1"), "sluice", "app", "podinfo") == {
        "app": "podinfo-primary"
    }
