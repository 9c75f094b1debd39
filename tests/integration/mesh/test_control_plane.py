"""The mesh control plane on the real test cluster, with real traffic on the pods' addresses.

Arrangement (tests/harness/netns.py): the apiserver and `sluice mesh control-plane` run on the host's
loopback; the gateway proxy and the app processes run inside a network namespace where the pod range
198.18.0.0/16 is local and nothing else is routable. The pods are kwok's (Ready, with IPs, nothing
running): each app process binds its pod's IP, the gateway binds the sluice-gateway pod's IP, and the
proxy reaches the control plane through a Unix socket file. The TrafficSplit and HTTPRouteGroup are
written by sluice's own SMI router, as a rollout with provider `sluice` on SMI does.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client

from controller.api.canary import Canary
from controller.api.routes import Routes
from controller.routers.gateway_api import GatewayAPIRouter
from controller.routers.smi import SMIRouter
from mesh.proxy.config_watch import http_request
from tests.cluster import controlplane
from tests.harness import processes
from tests.harness.netns import NetworkNamespace
from tests.harness.poll import wait_until

REPO = Path(__file__).parents[3]
CRDS = REPO / "tests" / "integration" / "kubernetes" / "crds"
APP = REPO / "examples" / "app" / "app.py"
PORT = 9898
ADMIN = 15000  # the proxy's admin port, on the namespace's own loopback
REQUESTS = 1000
TOLERANCE = 5.0  # percentage points


# The test cluster's CRDs have no TrafficTarget; a minimal one (the authorization tests define the real use).
TRAFFIC_TARGET_CRD: dict[str, Any] = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "traffictargets.access.smi-spec.io"},
    "spec": {
        "group": "access.smi-spec.io",
        "scope": "Namespaced",
        "names": {"kind": "TrafficTarget", "plural": "traffictargets", "singular": "traffictarget",
                  "listKind": "TrafficTargetList"},
        "versions": [{"name": "v1alpha3", "served": True, "storage": True, "schema": {"openAPIV3Schema": {
            "type": "object",
            "properties": {"spec": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}}}}}],
    },
}  # fmt: skip


def deployment(name: str, replicas: int) -> dict[str, Any]:
    labels = {"app": name}
    container = {
        "name": "app",
        "image": "example/podinfo:1",
        "ports": [{"name": "http", "containerPort": PORT}],
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "labels": labels},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {"metadata": {"labels": labels}, "spec": {"containers": [container]}},
        },
    }


def service(name: str, selector: str, target: int | str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name},
        "spec": {
            "selector": {"app": selector},
            "ports": [{"name": "http", "port": PORT, "targetPort": target}],
        },
    }


def canary(namespace: str, match: bool = False) -> Canary:
    analysis: dict[str, Any] = {"interval": "1s", "threshold": 2, "stepWeight": 10}
    if match:
        analysis = {
            "interval": "1s",
            "threshold": 2,
            "iterations": 3,
            "match": [{"headers": {"x-canary": {"exact": "insider"}}}],
        }
    return Canary.model_validate({
        "apiVersion": "sluice.dev/v1beta1",
        "kind": "Canary",
        "metadata": {"name": "podinfo", "namespace": namespace},
        "spec": {"targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "podinfo"},
                 "provider": "sluice", "service": {"port": PORT}, "analysis": analysis},
    })  # fmt: skip


def unix_get(socket_path: Path, path: str, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    return asyncio.run(http_request(f"unix://{socket_path}", path, 5.0, headers=headers))


@dataclass
class Mesh:
    namespace: str
    netns: NetworkNamespace
    socket: Path
    gateway_ip: str
    control_plane: Any
    procs: list[Any] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://{self.gateway_ip}:{PORT}/"

    def fetch(self, count: int, *headers: str, host: str = "podinfo") -> dict[str, Any]:
        return self.netns.fetch(self.url, host, count, headers, cwd=REPO)

    def proxy_config(self) -> dict[str, Any]:
        status, body = self.netns.get(f"http://127.0.0.1:{ADMIN}/config", cwd=REPO)
        assert status == 200, body
        return json.loads(body)

    def proxy_watch(self) -> dict[str, Any]:
        status, body = self.netns.get(f"http://127.0.0.1:{ADMIN}/control-plane", cwd=REPO)
        assert status == 200, body
        return json.loads(body)

    def start_control_plane(self, kubeconfig: Path, log: Path) -> None:
        self.control_plane = processes.start(
            processes.python_module("controller.cli.main", "mesh", "control-plane", "--kubeconfig",
                                    str(kubeconfig), "-n", self.namespace, "--listen", "none",
                                    "--unix-socket", str(self.socket)),
            log, cwd=REPO,
        )  # fmt: skip
        self.procs.append(self.control_plane)
        wait_until(lambda: unix_get(self.socket, "/readyz")[0] == 200, timeout=30, interval=0.2,
                   what="the control plane to have listed everything")  # fmt: skip

    def wait_for_split(self, split: dict[str, int], routes: int = 0) -> dict[str, Any]:
        def live() -> dict[str, Any] | None:
            services = self.proxy_config()["services"]
            if services and services[0]["split"] == split and len(services[0]["routes"]) == routes:
                return services[0]
            return None

        return wait_until(live, timeout=30, interval=0.3, what=f"the gateway to route {split}")


def pod_ips(core: client.CoreV1Api, namespace: str, app: str, count: int) -> list[str]:
    def ready() -> list[str] | None:
        pods = core.list_namespaced_pod(namespace, label_selector=f"app={app}").items
        ips = sorted(p.status.pod_ip for p in pods if p.status.pod_ip and p.status.phase == "Running")
        return ips if len(ips) == count else None

    return wait_until(ready, timeout=60, interval=0.3, what=f"{count} running pods of {app}")


@pytest.fixture(scope="module")
def mesh(k8s_cluster, k8s_api, k8s_kubeconfig, tmp_path_factory) -> Iterator[Mesh]:
    controlplane.install_crds(k8s_api, [CRDS / "smi.yaml", CRDS / "gateway-api.yaml", TRAFFIC_TARGET_CRD])
    core, apps = client.CoreV1Api(k8s_api), client.AppsV1Api(k8s_api)
    namespace = f"t-mesh-cp-{tmp_path_factory.getbasetemp().name[-6:].replace('_', '-').lower()}"
    core.create_namespace({"metadata": {"name": namespace, "labels": {"sluice.dev/test": "true"}}})
    work = tmp_path_factory.mktemp("mesh")
    procs: list[Any] = []
    netns = NetworkNamespace("sluice-cp")
    try:
        for name, replicas in (("podinfo-primary", 2), ("podinfo", 1), ("sluice-gateway", 1)):
            apps.create_namespaced_deployment(namespace, deployment(name, replicas))
        core.create_namespaced_service(namespace, service("podinfo-primary", "podinfo-primary", "http"))
        core.create_namespaced_service(namespace, service("podinfo-canary", "podinfo", "http"))
        core.create_namespaced_service(namespace, service("podinfo", "sluice-gateway", PORT))  # gateway mode
        primary, canary_ips = (
            pod_ips(core, namespace, "podinfo-primary", 2),
            pod_ips(core, namespace, "podinfo", 1),
        )
        (gateway_ip,) = pod_ips(core, namespace, "sluice-gateway", 1)
        assert all(ip.startswith("198.18.") for ip in [*primary, *canary_ips, gateway_ip])
        netns.create()
        for ip, version in [*((ip, "v1") for ip in primary), *((ip, "v2") for ip in canary_ips)]:
            args = [sys.executable, str(APP), "--host", ip, "--port", str(PORT), "--version", version]
            procs.append(netns.start(args, work / f"app-{ip}.log"))
        mesh = Mesh(namespace, netns, work / "control-plane.sock", "", None, procs)
        mesh.start_control_plane(k8s_kubeconfig, work / "control-plane.log")
        gateway_pod = core.list_namespaced_pod(namespace, label_selector="app=sluice-gateway").items[0]
        procs.append(netns.start(
            [sys.executable, "-m", "controller.cli.proxy", "--control-plane", f"unix://{mesh.socket}",
             "--node", f"{namespace}/{gateway_pod.metadata.name}", "--listen-address", gateway_ip,
             "--admin-port", str(ADMIN)],
            work / "gateway.log", cwd=REPO,
        ))  # fmt: skip
        mesh.gateway_ip = gateway_ip
        wait_until(lambda: mesh.proxy_watch()["state"] == "synced", timeout=30, interval=0.3,
                   what="the gateway to get its config")  # fmt: skip
        yield mesh
    finally:
        for proc in reversed(procs):
            processes.stop(proc)
        netns.delete()
        core.delete_namespace(namespace)


def share(result: dict[str, Any], version: str) -> float:
    counts = result["counts"]
    return 100.0 * counts.get(version, 0) / max(1, sum(counts.values()))


def test_traffic_split_weights_move_real_traffic_between_primary_and_canary(mesh, k8s_api):
    router = SMIRouter(k8s_api, "v1alpha4")
    rollout = canary(mesh.namespace)
    router.reconcile(rollout)  # the split at 100/0, as at the start of a rollout
    mesh.wait_for_split({"podinfo-canary": 0, "podinfo-primary": 100})
    assert mesh.fetch(200)["counts"] == {"v1": 200}
    figures, applied = {}, {}
    for canary_weight, version in ((30, "v1alpha4"), (60, "v1alpha1")):
        SMIRouter(k8s_api, version).set_routes(
            rollout, Routes(primary_weight=100 - canary_weight, canary_weight=canary_weight)
        )
        started = time.monotonic()
        mesh.wait_for_split({"podinfo-canary": canary_weight, "podinfo-primary": 100 - canary_weight})
        applied[canary_weight] = round(time.monotonic() - started, 2)
        result = mesh.fetch(REQUESTS)
        assert result["statuses"] == {"200": REQUESTS}, result
        figures[canary_weight] = share(result, "v2")
        assert abs(figures[canary_weight] - canary_weight) <= TOLERANCE, figures
    print(
        f"canary share over {REQUESTS} requests by TrafficSplit weight: {figures}; "
        f"seconds from the write to the gateway's config (polled every 0.3 s): {applied}"
    )
    # The gateway routes by Host: the apex's DNS names reach it, another name does not.
    assert mesh.fetch(10, host=f"podinfo.{mesh.namespace}.svc.cluster.local")["statuses"] == {"200": 10}
    assert mesh.fetch(5, host="other.example")["statuses"] == {"404": 5}


def test_route_group_header_matches_send_only_matching_requests_to_the_canary(mesh, k8s_api):
    router, rollout = SMIRouter(k8s_api, "v1alpha4"), canary(mesh.namespace, match=True)
    router.reconcile(rollout)  # the HTTPRouteGroup from analysis.match
    router.set_routes(rollout, Routes(primary_weight=0, canary_weight=100, matched=True))
    mesh.wait_for_split({"podinfo-primary": 1}, routes=1)
    assert mesh.fetch(300, "x-canary:insider")["counts"] == {"v2": 300}
    assert mesh.fetch(300)["counts"] == {"v1": 300}
    assert mesh.fetch(100, "x-canary:outsider")["counts"] == {"v1": 100}


def test_provider_sluice_http_route_weights_move_real_traffic(mesh, k8s_api):
    """Provider `sluice` writes a GAMMA HTTPRoute (Service parentRef); it takes over from the split."""
    router, rollout = GatewayAPIRouter(k8s_api), canary(mesh.namespace)
    router.set_routes(rollout, Routes(primary_weight=75, canary_weight=25))
    mesh.wait_for_split({"podinfo-primary": 75, "podinfo-canary": 25})
    result = mesh.fetch(REQUESTS)
    assert result["statuses"] == {"200": REQUESTS} and abs(share(result, "v2") - 25) <= TOLERANCE, result
    router.finalize(rollout)  # the TrafficSplit routes again
    routed = {"podinfo-primary": 75, "podinfo-canary": 25}
    wait_until(lambda: mesh.proxy_config()["services"][0]["split"] != routed, timeout=30, interval=0.3,
               what="the HTTPRoute's split to leave the gateway")  # fmt: skip


def test_traffic_targets_reach_the_gateway_with_their_route_groups_resolved(mesh, k8s_api):
    custom = client.CustomObjectsApi(k8s_api)
    group = {
        "apiVersion": "specs.smi-spec.io/v1alpha4",
        "kind": "HTTPRouteGroup",
        "metadata": {"name": "api"},
        "spec": {"matches": [{"name": "read", "methods": ["GET"], "pathRegex": "/api/.*"}]},
    }
    target = {
        "apiVersion": "access.smi-spec.io/v1alpha3",
        "kind": "TrafficTarget",
        "metadata": {"name": "podinfo"},
        "spec": {
            "destination": {"kind": "ServiceAccount", "name": "podinfo", "namespace": mesh.namespace},
            "rules": [{"kind": "HTTPRouteGroup", "name": "api", "matches": ["read"]}],
            "sources": [{"kind": "ServiceAccount", "name": "frontend", "namespace": mesh.namespace}],
        },
    }
    custom.create_namespaced_custom_object(
        "specs.smi-spec.io", "v1alpha4", mesh.namespace, "httproutegroups", group
    )
    custom.create_namespaced_custom_object(
        "access.smi-spec.io", "v1alpha3", mesh.namespace, "traffictargets", target
    )
    (live,) = wait_until(
        lambda: mesh.proxy_config()["traffic_targets"],
        timeout=30,
        interval=0.3,
        what="the TrafficTarget in the gateway's config",
    )
    assert live["sources"] == [{"kind": "ServiceAccount", "name": "frontend", "namespace": mesh.namespace}]
    assert live["rules"] == [
        {
            "name": "api",
            "matches": [
                {"headers": {}, "cookies": {}, "path": {"regex": "(?:/api/.*).*"}, "method": ["GET"]}
            ],
        }
    ]
    custom.delete_namespaced_custom_object(
        "access.smi-spec.io", "v1alpha3", mesh.namespace, "traffictargets", "podinfo"
    )
    wait_until(lambda: mesh.proxy_config()["traffic_targets"] == [], timeout=30, interval=0.3,
               what="the TrafficTarget gone from the gateway's config")  # fmt: skip


def test_the_gateway_keeps_serving_its_last_config_when_the_control_plane_stops(
    mesh, k8s_api, k8s_kubeconfig
):
    before = mesh.proxy_config()
    processes.stop(mesh.control_plane)
    wait_until(lambda: mesh.proxy_watch()["state"] == "unreachable", timeout=30, interval=0.3,
               what="the gateway to notice the control plane is gone")  # fmt: skip
    SMIRouter(k8s_api, "v1alpha4").set_routes(
        canary(mesh.namespace), Routes(primary_weight=100, canary_weight=0)
    )
    assert mesh.fetch(300, "x-canary:insider") == {"counts": {"v2": 300}, "statuses": {"200": 300}}
    assert mesh.fetch(300) == {"counts": {"v1": 300}, "statuses": {"200": 300}}
    assert mesh.proxy_config() == before
    # A new control plane process (versions count on from the wall clock) brings the gateway up to date.
    mesh.start_control_plane(k8s_kubeconfig, mesh.socket.parent / "control-plane-2.log")
    mesh.wait_for_split({"podinfo-canary": 0, "podinfo-primary": 100})
    assert mesh.proxy_watch()["state"] == "synced"
    assert mesh.fetch(100, "x-canary:insider")["counts"] == {"v1": 100}
