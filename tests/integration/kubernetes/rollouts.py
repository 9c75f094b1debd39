"""Helpers for the rollout tests on the real control plane: sluice's CRDs, a controller in-process,
a fake Prometheus on 127.0.0.1 whose answers the test sets, and small builders for the objects.

Why a fake Prometheus: kwok pods serve no traffic, so the metric verdicts must come from somewhere the
test controls; the controller still queries it over real HTTP exactly as it queries Prometheus.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
from kubernetes import client

from controller.api.crd_schema import all_crds
from controller.platforms.kubernetes.client import KubeClient, resource_path
from controller.ports.store import Conflict
from controller.runtime.kubernetes import KubernetesController
from tests.harness.poll import wait_until

CRDS = Path(__file__).parent / "crds"


@pytest.fixture(name="cluster")
def cluster_fixture(k8s_api: Any, k8s_namespace: str, k8s_install_crds: Any) -> Cluster:
    """The test's namespace, with sluice's, SMI's and Gateway API's CRDs installed."""
    install_all_crds(k8s_install_crds)
    return Cluster(k8s_api, k8s_namespace)


@pytest.fixture(name="prometheus")
def prometheus_fixture() -> Iterator[FakePrometheus]:
    server = FakePrometheus()
    yield server
    server.close()


class FakePrometheus:
    """Answers /api/v1/query: `vector(1)` is 1 (the availability probe), anything else `value`."""

    def __init__(self) -> None:
        self.value = 100.0
        self.queries: list[str] = []
        self.authorizations: list[str] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                query = parse_qs(urlparse(self.path).query).get("query", [""])[0]
                outer.queries.append(query)
                outer.authorizations.append(self.headers.get("Authorization", ""))
                value = 1.0 if query.strip() == "vector(1)" else outer.value
                body = json.dumps(
                    {
                        "status": "success",
                        "data": {
                            "resultType": "vector",
                            "result": [{"metric": {}, "value": [0, str(value)]}],
                        },
                    }
                ).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def install_all_crds(install: Callable[..., list[str]]) -> None:
    install([*all_crds().values(), CRDS / "smi.yaml", CRDS / "gateway-api.yaml"])


@contextmanager
def running_controller(api: Any, namespace: str, **options: Any) -> Iterator[KubernetesController]:
    options.setdefault("sync_seconds", 0.3)
    controller = KubernetesController(api, namespace=namespace, **options)
    controller.start()
    try:
        yield controller
    finally:
        controller.stop()


def deployment(
    name: str, image: str = "example.invalid/podinfo:1", replicas: int = 2, config: str | None = None
) -> dict[str, Any]:
    labels = {"app": name}
    container: dict[str, Any] = {
        "name": "app",
        "image": image,
        "ports": [{"containerPort": 9898, "name": "http"}],
    }
    if config:
        container["envFrom"] = [{"configMapRef": {"name": config}}]
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


def canary(
    name: str, analysis: dict[str, Any], metrics_server: str | None = None, **spec: Any
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "apiVersion": "sluice.dev/v1beta1",
        "kind": "Canary",
        "metadata": {"name": name},
        "spec": {
            "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": name},
            "service": {"port": 9898},
            "analysis": analysis,
            **spec,
        },
    }
    if metrics_server:
        body["spec"]["metricsServer"] = metrics_server
    return body


SUCCESS_RATE = [{"name": "request-success-rate", "thresholdRange": {"min": 99}, "interval": "1m"}]


class Cluster:
    """The test's view of one namespace: create objects, read them back, wait for a canary's phase."""

    def __init__(self, api: Any, namespace: str) -> None:
        self.api = api
        self.namespace = namespace
        self.kube = KubeClient(api)
        self.apps = client.AppsV1Api(api)

    def path(self, api_version: str, plural: str, name: str | None = None) -> str:
        return resource_path(api_version, plural, self.namespace, name)

    def create(self, api_version: str, plural: str, body: dict[str, Any]) -> dict[str, Any]:
        return self.kube.create(self.path(api_version, plural), body)

    def get(self, api_version: str, plural: str, name: str) -> dict[str, Any] | None:
        return self.kube.get_or_none(self.path(api_version, plural, name))

    def patch(self, api_version: str, plural: str, name: str, body: dict[str, Any]) -> dict[str, Any]:
        return self.kube.patch(self.path(api_version, plural, name), body)

    def delete(self, api_version: str, plural: str, name: str) -> None:
        self.kube.delete(self.path(api_version, plural, name))

    def deployment(self, name: str) -> dict[str, Any]:
        found = self.get("apps/v1", "deployments", name)
        assert found is not None, f"Deployment {name} not found"
        return found

    def canary_status(self, name: str) -> dict[str, Any]:
        return (self.get("sluice.dev/v1beta1", "canaries", name) or {}).get("status") or {}

    def wait_phase(self, name: str, phase: str, timeout: float = 60.0) -> dict[str, Any]:
        return wait_until(
            lambda: (s := self.canary_status(name)).get("phase") == phase and s,
            timeout=timeout,
            interval=0.2,
            what=f"canary {name} to reach {phase} (now {self.canary_status(name)})",
        )

    def set_image(self, name: str, image: str, kind: str = "deployments") -> None:
        """Change only the image (a JSON merge patch would replace the whole containers list); a
        read-modify-write, tried again when the controller changed the object in between (409)."""

        def replaced() -> bool:
            workload = self.get("apps/v1", kind, name)
            assert workload is not None
            workload["spec"]["template"]["spec"]["containers"][0]["image"] = image
            try:
                self.kube.replace(self.path("apps/v1", kind, name), workload)
            except Conflict:
                return False
            return True

        wait_until(replaced, timeout=10, what=f"the image of {name} to be set")

    def image(self, name: str) -> str:
        return self.deployment(name)["spec"]["template"]["spec"]["containers"][0]["image"]

    def replicas(self, name: str) -> int:
        return int(self.deployment(name)["spec"].get("replicas", 0))

    def events(self, name: str) -> list[str]:
        listed = self.kube.get(
            self.path("v1", "events"), fieldSelector=f"involvedObject.kind=Canary,involvedObject.name={name}"
        )
        return [e.get("message", "") for e in listed.get("items", [])]


class WeightRecorder:
    """Watches an object's weights from the test's side: every distinct canary weight, in order."""

    def __init__(self, read: Callable[[], Any]) -> None:
        self.read = read
        self.seen: list[Any] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            self._sample()
            self._stop.wait(0.05)

    def _sample(self) -> None:
        try:
            weight = self.read()
        except Exception:
            weight = None
        if weight is not None and (not self.seen or self.seen[-1] != weight):
            self.seen.append(weight)

    def stop(self) -> list[Any]:
        """Stop, after one last reading (the last change may be younger than the polling interval)."""
        self._stop.set()
        self._thread.join(timeout=5)
        self._sample()
        return self.seen
