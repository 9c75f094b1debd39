"""The controller's health, readiness and metrics endpoints over real HTTP."""

from __future__ import annotations

import urllib.error
import urllib.request

import pytest

from controller.runtime.metrics import ControllerMetrics
from controller.server import ControllerServer


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()


@pytest.mark.parametrize("leader", [True, False])
def test_health_readiness_and_metrics(leader: bool) -> None:
    metrics = ControllerMetrics(mesh_provider="sluice")
    metrics.set_phase("podinfo", "default", "Failed")
    metrics.set_weights("podinfo", "default", primary=90, canary=10)
    server = ControllerServer(metrics.registry, ready=lambda: leader)
    server.start()
    try:
        base = f"http://127.0.0.1:{server.port}"
        assert get(base + "/healthz")[0] == 200
        assert get(base + "/readyz")[0] == (200 if leader else 503)
        code, body = get(base + "/metrics")
        assert code == 200
        assert 'sluice_canary_status{name="podinfo",namespace="default"} 2.0' in body
        assert 'sluice_canary_weight{namespace="default",workload="podinfo-primary"} 90.0' in body
        assert 'sluice_info{mesh_provider="sluice",version="0.1.0"} 1.0' in body
    finally:
        server.stop()
