"""A rollout on the real control plane, analysed by a real Prometheus (issue 7's acceptance, Kubernetes half).

kwok pods serve nothing, so the data plane runs on 127.0.0.1 beside the cluster: the real bundled proxy
(`python -m controller.cli.proxy`) for service `podinfo` in the test's namespace, with backends
`podinfo-primary` and `podinfo-canary`, in front of real demo apps standing in for the pods — one app per
image: `:1` and `:2` healthy, `:3` answering 30% 500s. A small shim in the test plays the mesh: it reads
the Deployments' images and the SMI TrafficSplit the controller writes (from the API server) and puts
the matching config to the proxy's admin API, so the canary gets exactly the traffic share the controller
chose, served by the version it is rolling out. Prometheus (the Debian binary, 1 s scrapes) scrapes the
proxy's /metrics, and the Canary's `spec.metricsServer` names it: the builtin request-success-rate and
request-duration are the `sluice` flavor's PromQL over `sluice_proxy_*` (provider `smi:v1alpha4`).

`:2` is promoted; then `:3` is rolled back, with the success rate Prometheus computed as the reason.
"""

from __future__ import annotations

import json
import re
import sys
import threading
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from mesh.proxy.admin_client import AdminClient
from tests.e2e.local.clients import Clients
from tests.harness.net import free_port, wait_for_http
from tests.harness.poll import wait_until
from tests.harness.processes import python_module, running
from tests.harness.prometheus import PrometheusServer, prometheus_binary, running_prometheus
from tests.integration.kubernetes.rollouts import (  # noqa: F401
    Cluster,
    canary,
    cluster_fixture,
    deployment,
    running_controller,
)

pytestmark = [
    pytest.mark.slow,
    pytest.mark.prometheus,
    pytest.mark.skipif(prometheus_binary() is None, reason="prometheus is not installed (make system-deps)"),
]

APP = Path(__file__).resolve().parents[3] / "examples" / "app" / "app.py"
IMAGE = "example.invalid/podinfo"
# image tag -> the demo app's extra flags
VERSIONS = {"1": [], "2": [], "3": ["--error-rate", "0.3"]}
SPLIT_VERSION = "v1alpha4"
WINDOW = "10s"  # the metrics' interval: the query window, ten 1 s scrapes
QUERIES = re.compile(r'^prometheus_http_requests_total\{code="200",handler="/api/v1/query"\} (\S+)$', re.M)
SUCCESS_REASON = re.compile(r"request-success-rate (\d+(?:\.\d+)?)% < min 99%")


def proxy_config(
    namespace: str, port: int, apps: dict[str, int], tags: tuple[str, str], weights: tuple[int, int]
) -> dict[str, Any]:
    """Service `podinfo` in `namespace`: its backends on the apps of the (primary, canary) image tags."""
    backends = {"podinfo-primary": tags[0], "podinfo-canary": tags[1]}
    return {
        "services": [
            {
                "name": "podinfo",
                "namespace": namespace,
                "port": port,
                "backends": {b: {"endpoints": [f"127.0.0.1:{apps[tag]}"]} for b, tag in backends.items()},
                "split": {"podinfo-primary": weights[0], "podinfo-canary": weights[1]},
            }
        ]
    }


@dataclass
class Rig:
    """The processes on 127.0.0.1 standing in for the pods and the mesh: apps, proxy, Prometheus."""

    namespace: str
    apps: dict[str, int]  # image tag -> port of its app
    proxy_port: int
    admin: AdminClient
    prometheus: PrometheusServer

    def apply(self, primary_tag: str, canary_tag: str, primary_weight: int, canary_weight: int) -> None:
        tags, weights = (primary_tag, canary_tag), (primary_weight, canary_weight)
        self.admin.put_config(proxy_config(self.namespace, self.proxy_port, self.apps, tags, weights))

    def queries_answered(self) -> float:
        """Prometheus' own count of the /api/v1/query calls it answered."""
        with urllib.request.urlopen(f"{self.prometheus.url}/metrics", timeout=5) as response:
            found = QUERIES.search(response.read().decode())
        return float(found.group(1)) if found else 0.0


@pytest.fixture
def rig(cluster: Cluster, tmp_path: Path) -> Iterator[Rig]:
    """An app per image, the proxy (primary and canary on `:1`, all traffic to the primary) and a
    Prometheus scraping it; each process is stopped by its PID on the way out, whatever happens."""
    with ExitStack() as stack:
        apps: dict[str, int] = {}
        for tag, flags in VERSIONS.items():
            apps[tag] = port = free_port()
            args = [sys.executable, str(APP), "--port", str(port), "--version", f"v{tag}", *flags]
            stack.enter_context(running(args, tmp_path / f"app-v{tag}.log"))
        for port in apps.values():
            wait_for_http(f"http://127.0.0.1:{port}/healthz")

        proxy_port, admin_port = free_port(), free_port()
        config_path = tmp_path / "proxy.json"
        config = proxy_config(cluster.namespace, proxy_port, apps, ("1", "1"), (100, 0))
        config_path.write_text(json.dumps(config))
        args = python_module(
            "controller.cli.proxy", "--config", str(config_path), "--admin-port", str(admin_port)
        )
        stack.enter_context(running(args, tmp_path / "proxy.log"))
        admin = AdminClient(f"http://127.0.0.1:{admin_port}")
        wait_until(admin.healthy, timeout=15, what="the proxy's admin API")

        prometheus = stack.enter_context(
            running_prometheus([f"127.0.0.1:{admin_port}"], tmp_path / "prometheus")
        )
        yield Rig(cluster.namespace, apps, proxy_port, admin, prometheus)


class MeshShim:
    """The test's stand-in for the mesh: keeps the proxy in step with the cluster.

    Every 0.1 s: the image of `podinfo-primary` picks the primary backend's app, the image of `podinfo`
    the canary backend's, and the TrafficSplit's weights the split; a change is one atomic config swap.
    """

    def __init__(self, cluster: Cluster, rig: Rig) -> None:
        self.cluster = cluster
        self.rig = rig
        self.applied: list[tuple[str, str, int, int]] = []
        self.errors: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _tag(self, name: str) -> str | None:
        found = self.cluster.get("apps/v1", "deployments", name)
        if found is None:
            return None
        return found["spec"]["template"]["spec"]["containers"][0]["image"].rsplit(":", 1)[1]

    def _desired(self) -> tuple[str, str, int, int] | None:
        split = self.cluster.get(f"split.smi-spec.io/{SPLIT_VERSION}", "trafficsplits", "podinfo")
        primary, canary_tag = self._tag("podinfo-primary"), self._tag("podinfo")
        if split is None or primary is None or canary_tag is None:
            return None
        weights = {b["service"]: int(b["weight"]) for b in split["spec"]["backends"]}
        return primary, canary_tag, weights["podinfo-primary"], weights["podinfo-canary"]

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                desired = self._desired()
                if desired is not None and (not self.applied or self.applied[-1] != desired):
                    self.rig.apply(*desired)
                    self.applied.append(desired)
            except Exception as exc:  # the API server or the proxy hiccuped: try again next round
                self.errors.append(repr(exc))
            self._stop.wait(0.1)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


@pytest.fixture
def mesh(cluster: Cluster, rig: Rig) -> Iterator[MeshShim]:
    shim = MeshShim(cluster, rig)
    try:
        yield shim
    finally:
        shim.stop()


def checks(status: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["name"]: c for c in status.get("lastChecks") or []}


def test_prometheus_promotes_a_good_version_and_rolls_back_a_bad_one(
    cluster: Cluster, rig: Rig, mesh: MeshShim
) -> None:
    metrics = [
        {
            "name": "request-success-rate",
            "interval": WINDOW,
            "thresholdRange": {"min": 99},
            "minRequests": 10,
        },
        {"name": "request-duration", "interval": WINDOW, "thresholdRange": {"max": 500}},
    ]
    analysis = {"interval": "1s", "threshold": 2, "stepWeight": 10, "maxWeight": 50, "metrics": metrics}
    cluster.create("apps/v1", "deployments", deployment("podinfo", image=f"{IMAGE}:1"))
    body = canary("podinfo", analysis, rig.prometheus.url, provider=f"smi:{SPLIT_VERSION}")
    cluster.create("sluice.dev/v1beta1", "canaries", body)

    with (
        running_controller(cluster.api, cluster.namespace),
        Clients(rig.proxy_port, workers=2, pause=0.02) as clients,
    ):
        cluster.wait_phase("podinfo", "Initialized", timeout=30)
        wait_until(lambda: mesh.applied[-1:] == [("1", "1", 100, 0)], timeout=10, what="the shim")
        wait_until(lambda: clients.versions()["v1"] > 0, timeout=10, what="traffic through the proxy")

        asked = rig.queries_answered()
        cluster.set_image("podinfo", f"{IMAGE}:2")
        good = cluster.wait_phase("podinfo", "Succeeded", timeout=60)
        asked_for_v2 = rig.queries_answered() - asked
        assert cluster.image("podinfo-primary") == f"{IMAGE}:2"
        good_checks = checks(good)
        assert good_checks["request-success-rate"]["outcome"] == "pass", good
        assert good_checks["request-success-rate"]["value"] >= 99, good
        assert good_checks["request-duration"]["outcome"] == "pass", good
        assert asked_for_v2 >= 4, "two checks per analysis tick, several ticks, all asked of Prometheus"
        canary_weights = [c for _, _, _, c in mesh.applied]
        assert max(canary_weights) == 50 and 10 in canary_weights, mesh.applied
        answers = clients.between(0)
        first_v2 = min(a.sent for a in answers if a.version == "v2")
        last_v1 = max(a.received for a in answers if a.version == "v1")
        assert first_v2 < last_v1, "the canary served its share while the primary still ran :1"

        # After promotion the primary runs :2; the next version, :3, fails 30% of its requests.
        wait_until(lambda: mesh.applied[-1] == ("2", "2", 100, 0), timeout=10, what="primary on :2")
        # Backend podinfo-canary served :2 a moment ago; let :2's requests leave the 10 s window so the
        # verdict on :3 is :3's alone (as it would be after any pause between two releases).
        served_by_canary = f'sum(increase(sluice_proxy_requests_total{{backend="podinfo-canary"}}[{WINDOW}]))'
        wait_until(
            lambda: rig.prometheus.value(served_by_canary) == 0, timeout=30, what="an empty canary window"
        )
        cluster.set_image("podinfo", f"{IMAGE}:3")
        bad = cluster.wait_phase("podinfo", "Failed", timeout=60)
        wait_until(lambda: mesh.applied[-1][3] == 0, timeout=10, what="traffic back on the primary")

    reason = bad.get("lastReason") or ""
    found = SUCCESS_REASON.search(reason)
    assert found, reason
    bad_checks = checks(bad)
    # ~70%: what Prometheus made of the proxy's counters for :3 (the first 500s of a new series are lost
    # to rate(), so a little higher); the reason carries the value the check recorded.
    assert 40 < float(found.group(1)) < 92, reason
    assert f"{bad_checks['request-success-rate']['value']:.2f}" == found.group(1), (reason, bad)
    assert bad_checks["request-success-rate"]["outcome"] == "fail", bad
    assert bad_checks["request-duration"]["outcome"] == "pass", bad
    assert cluster.image("podinfo-primary") == f"{IMAGE}:2"
    served = clients.versions()
    assert served["v3"] > 0 and any(a.status == 500 for a in clients.failures()), served
    assert not [a for a in clients.failures() if a.status != 500], "only the app's own 500s failed"
