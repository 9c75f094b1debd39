"""Backend identities from Pods, on the real test cluster with real mTLS traffic on the pods' addresses.

Arrangement as in test_control_plane.py (tests/harness/netns.py): the apiserver and the control plane on the
host's loopback; the gateway, the backends' own mTLS proxies and the apps inside a network namespace where
the pod range is local. Two apexes, each split to one backend Service whose port is
`appProtocol: mesh.sluice.dev/mtls` and targets the mTLS listener (15443) of a sluice proxy in front of the
app in each backend pod:

- `api` -> `api-v1`: pods run as ServiceAccount `api`, and their proxies present `.../sa/api`.
- `billing` -> `billing-v1`: pods run as ServiceAccount `billing`, but their proxy presents `.../sa/api`
  (it is not who its pod says): the gateway, which requires `.../sa/billing`, must refuse it.

The gateway has a certificate of its own (`tls` in its --config file), so it polls with mtls=1; the
control plane computes each backend's identity from the Pods behind its EndpointSlice endpoints. The
certificates come from a CertificateAuthority made in the test (issuance is test_mtls_issuance.py's
subject), and the proxy sends its ServiceAccount token to a control plane that requires one.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client

from mesh.control.identities import MTLS_APP_PROTOCOL
from mesh.identity import CertificateAuthority
from tests.cluster import controlplane
from tests.harness import processes
from tests.harness.netns import NetworkNamespace
from tests.harness.poll import wait_until
from tests.integration.mesh.mtls_rig import issue_files
from tests.integration.mesh.test_control_plane import CRDS, REPO, deployment, pod_ips, unix_get

APP = REPO / "examples" / "app" / "app.py"
PORT, MTLS_PORT, ADMIN = 9898, 15443, 15000


def spiffe_id(namespace: str, account: str) -> str:
    return f"spiffe://cluster.local/ns/{namespace}/sa/{account}"


def mtls_service(name: str, selector: str) -> dict[str, Any]:
    port = {"name": "mesh", "port": PORT, "targetPort": MTLS_PORT, "appProtocol": MTLS_APP_PROTOCOL}
    return {"metadata": {"name": name}, "spec": {"selector": {"app": selector}, "ports": [port]}}


def apex_service(name: str) -> dict[str, Any]:
    port = {"name": "http", "port": PORT, "targetPort": PORT}
    return {"metadata": {"name": name}, "spec": {"selector": {"app": "sluice-gateway"}, "ports": [port]}}


def traffic_split(apex: str, backend: str) -> dict[str, Any]:
    return {
        "apiVersion": "split.smi-spec.io/v1alpha4",
        "kind": "TrafficSplit",
        "metadata": {"name": apex},
        "spec": {"service": apex, "backends": [{"service": backend, "weight": 100}]},
    }


def backend_proxy(name: str, ip: str, tls: dict[str, str]) -> dict[str, Any]:
    """A backend pod's own proxy: mTLS listener on ip:15443, plain to the app on ip:9898."""
    return {
        "tls": {"files": tls},
        "services": [
            {
                "name": name,
                "namespace": "mesh",
                "address": ip,
                "port": MTLS_PORT,
                "tls": True,
                "backends": {"app": {"endpoints": [f"{ip}:{PORT}"]}},
                "split": {"app": 100},
            }
        ],
    }


@dataclass
class Rig:
    namespace: str
    netns: NetworkNamespace
    socket: Path
    gateway_ip: str = ""
    token: str = ""
    procs: list[Any] = field(default_factory=list)

    def fetch(self, host: str, count: int = 20) -> dict[str, Any]:
        return self.netns.fetch(f"http://{self.gateway_ip}:{PORT}/", host, count, cwd=REPO)

    def gateway_config(self) -> dict[str, Any]:
        status, body = self.netns.get(f"http://127.0.0.1:{ADMIN}/config", cwd=REPO)
        assert status == 200, body
        return json.loads(body)

    def backend(self, service: str, backend: str) -> dict[str, Any] | None:
        found = [s for s in self.gateway_config()["services"] if s["name"] == service]
        return found[0]["backends"].get(backend) if found else None


@pytest.fixture(scope="module")
def rig(k8s_cluster, k8s_api, k8s_kubeconfig, tmp_path_factory) -> Iterator[Rig]:
    controlplane.install_crds(k8s_api, [CRDS / "smi.yaml", CRDS / "gateway-api.yaml"])
    core, apps = client.CoreV1Api(k8s_api), client.AppsV1Api(k8s_api)
    custom = client.CustomObjectsApi(k8s_api)
    namespace = f"t-mesh-id-{tmp_path_factory.getbasetemp().name[-6:].replace('_', '-').lower()}"
    core.create_namespace({"metadata": {"name": namespace, "labels": {"sluice.dev/test": "true"}}})
    work = tmp_path_factory.mktemp("identity")
    netns = NetworkNamespace("sluice-id")
    rig = Rig(namespace, netns, work / "control-plane.sock")
    try:
        token = controlplane.create_service_account_token(k8s_api, namespace, "sluice-gateway")
        for account in ("api", "billing"):
            core.create_namespaced_service_account(namespace, {"metadata": {"name": account}})
        for name, account in (("api", "api"), ("billing", "billing"), ("sluice-gateway", "sluice-gateway")):
            body = deployment(name, 1)
            body["spec"]["template"]["spec"]["serviceAccountName"] = account
            apps.create_namespaced_deployment(namespace, body)
        for apex in ("api", "billing"):
            core.create_namespaced_service(namespace, apex_service(apex))
            core.create_namespaced_service(namespace, mtls_service(f"{apex}-v1", apex))
            custom.create_namespaced_custom_object(
                "split.smi-spec.io", "v1alpha4", namespace, "trafficsplits", traffic_split(apex, f"{apex}-v1")
            )
        (api_ip,), (billing_ip,) = pod_ips(core, namespace, "api", 1), pod_ips(core, namespace, "billing", 1)
        (rig.gateway_ip,) = pod_ips(core, namespace, "sluice-gateway", 1)
        ca = CertificateAuthority.generate()
        certs = work / "certs"
        netns.create()
        for ip, version, presents in ((api_ip, "v1", "api"), (billing_ip, "b1", "api")):
            app = [sys.executable, str(APP), "--host", ip, "--port", str(PORT), "--version", version]
            rig.procs.append(netns.start(app, work / f"app-{ip}.log"))
            config = work / f"proxy-{ip}.yaml"
            files = issue_files(ca, certs / ip, presents, namespace)
            config.write_text(yaml.safe_dump(backend_proxy(version, ip, files)))
            admin = str(ADMIN + 1 + len(rig.procs))
            proxy = [
                sys.executable,
                "-m",
                "controller.cli.proxy",
                "--config",
                str(config),
                "--admin-port",
                admin,
            ]
            rig.procs.append(netns.start(proxy, work / f"proxy-{ip}.log", cwd=REPO))
        rig.procs.append(processes.start(
            processes.python_module("controller.cli.main", "mesh", "control-plane", "--kubeconfig",
                                    str(k8s_kubeconfig), "-n", namespace, "--listen", "none",
                                    "--unix-socket", str(rig.socket), "--require-proxy-token"),
            work / "control-plane.log", cwd=REPO,
        ))  # fmt: skip
        wait_until(lambda: unix_get(rig.socket, "/readyz")[0] == 200, timeout=30, interval=0.2,
                   what="the control plane to have listed everything")  # fmt: skip
        gateway_config = work / "gateway.yaml"
        gateway_files = issue_files(ca, certs, "sluice-gateway", namespace)
        gateway_config.write_text(yaml.safe_dump({"tls": {"files": gateway_files}}))
        token_file = work / "gateway-token"
        token_file.write_text(token)
        rig.token = token
        rig.procs.append(netns.start(
            [sys.executable, "-m", "controller.cli.proxy", "--control-plane", f"unix://{rig.socket}",
             "--node", f"{namespace}/gateway", "--listen-address", rig.gateway_ip, "--admin-port", str(ADMIN),
             "--config", str(gateway_config)],
            work / "gateway.log", cwd=REPO, env={"SLUICE_CONTROL_PLANE_TOKEN_FILE": str(token_file)},
        ))  # fmt: skip
        wait_until(lambda: len(rig.gateway_config()["services"]) == 2, timeout=30, interval=0.3,
                   what="the gateway to get both apexes")  # fmt: skip
        yield rig
    finally:
        for proc in reversed(rig.procs):
            processes.stop(proc)
        netns.delete()
        core.delete_namespace(namespace)


def test_a_backend_requires_the_service_account_its_pods_run_as(rig):
    ns = rig.namespace
    api = wait_until(lambda: rig.backend("api", "api-v1"), timeout=30, interval=0.3, what="api-v1")
    assert api["identity"] == spiffe_id(ns, "api") and len(api["endpoints"]) == 1
    billing = rig.backend("billing", "billing-v1")
    assert billing is not None and billing["identity"] == spiffe_id(ns, "billing")


def test_mesh_requests_reach_a_backend_that_is_who_its_pods_run_as(rig):
    assert rig.fetch("api", 50) == {"counts": {"v1": 50}, "statuses": {"200": 50}}


def test_the_gateway_refuses_a_backend_presenting_another_identity_than_its_pods(rig):
    result = rig.fetch("billing", 10)
    assert result["statuses"] == {"502": 10}, result
    log = (rig.socket.parent / "gateway.log").read_text()
    assert f"peer presented identity {spiffe_id(rig.namespace, 'api')}" in log, log[-3000:]
    assert f"expected {spiffe_id(rig.namespace, 'billing')}" in log


def test_a_proxy_without_tls_is_told_why_it_gets_no_mtls_backend(rig):
    path = f"/v1/config?node={rig.namespace}/other&address={rig.gateway_ip}&version=0&wait=0"
    headers = {"Authorization": f"Bearer {rig.token}"}
    status, body = unix_get(rig.socket, path, headers)
    assert status == 200, body
    document = json.loads(body)
    assert {s["split"].get("unrouted") for s in document["config"]["services"]} == {1}
    assert any("api-v1 port 9898 is mesh.sluice.dev/mtls" in p for p in document["problems"])


def test_the_config_api_wants_a_service_account_token_of_the_node_s_namespace(rig, k8s_api):
    path = f"/v1/config?node={rig.namespace}/gateway&address={rig.gateway_ip}&version=0&wait=0&mtls=1"
    assert unix_get(rig.socket, path)[0] == 401
    assert unix_get(rig.socket, path, {"Authorization": "Bearer not-a-token"})[0] == 401
    assert unix_get(rig.socket, path, {"Authorization": f"Bearer {rig.token}"})[0] == 200
    elsewhere = f"/v1/config?node=kube-system/gateway&address={rig.gateway_ip}&version=0&wait=0"
    status, body = unix_get(rig.socket, elsewhere, {"Authorization": f"Bearer {rig.token}"})
    assert status == 403 and b"kube-system" in body
    assert unix_get(rig.socket, "/readyz")[0] == 200  # probes stay open
    assert rig.gateway_config()["services"]  # and the gateway itself, with its token, is synced
    status, body = rig.netns.get(f"http://127.0.0.1:{ADMIN}/control-plane", cwd=REPO)
    assert json.loads(body)["state"] == "synced", body
