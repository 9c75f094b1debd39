"""A local rollout analysed by a real Prometheus scraping the real bundled proxy (issue 7's acceptance).

`sluice run` starts the proxy on a known admin port; Prometheus (the Debian binary, 1 s scrapes) scrapes
its /metrics; the builtin request-success-rate and request-duration become PromQL over `sluice_proxy_*`
instead of the proxy's windows. v2 is promoted with Prometheus named by the Canary's `spec.metricsServer`;
then the controller is restarted with `--metrics-server` instead, and v3 (25% errors) is rolled back with
the success rate as the reason. Prometheus' own counter of query API calls shows it was asked each time.
"""

from __future__ import annotations

import re
import urllib.request
from pathlib import Path

import pytest

from tests.e2e.local.clients import Clients
from tests.e2e.local.rig import Rig, canary, duration, success_rate, workload
from tests.harness.net import free_port
from tests.harness.poll import wait_until
from tests.harness.processes import stop
from tests.harness.prometheus import PrometheusServer, prometheus_binary, running_prometheus

pytestmark = [
    pytest.mark.slow,
    pytest.mark.prometheus,
    pytest.mark.skipif(prometheus_binary() is None, reason="prometheus is not installed (make system-deps)"),
]

QUERIES = re.compile(r'^prometheus_http_requests_total\{code="200",handler="/api/v1/query"\} (\S+)$', re.M)


def queries_answered(prometheus: PrometheusServer) -> float:
    with urllib.request.urlopen(f"{prometheus.url}/metrics", timeout=5) as response:
        found = QUERIES.search(response.read().decode())
    return float(found.group(1)) if found else 0.0


def test_prometheus_promotes_a_good_version_and_rolls_back_a_bad_one(rig: Rig, tmp_path: Path) -> None:
    admin_port = free_port()
    rig.apply(workload("v1"))
    rig.start_controller("--proxy-admin-port", str(admin_port))
    wait_until(lambda: rig.admin().healthy(), timeout=30, what="the bundled proxy")
    with running_prometheus([f"127.0.0.1:{admin_port}"], tmp_path / "prometheus") as prometheus:
        metrics = [success_rate(interval="10s"), duration(maximum=500, interval="10s")]
        analysis = {"interval": "2s", "stepWeight": 25, "maxWeight": 50, "metrics": metrics}
        rig.apply(canary(rig.port, analysis, metricsServer=prometheus.url))
        rig.wait_phase("Initialized", timeout=30)
        asked = queries_answered(prometheus)
        with Clients(rig.port, workers=3) as clients:
            rig.apply(workload("v2"))
            good = rig.wait_phase("Succeeded", "Failed", timeout=90)
            asked_for_v2 = queries_answered(prometheus) - asked

            # The other way to name Prometheus: the controller's --metrics-server, for every canary.
            stop(rig.controller)
            rig.apply(canary(rig.port, analysis))
            rig.start_controller("--metrics-server", prometheus.url)
            asked = queries_answered(prometheus)
            rig.apply(workload("v3", "--error-rate", "0.25"))
            rig.wait_for(lambda s: s.phase == "Progressing", timeout=30, what="v3 detected")
            bad = rig.wait_phase("Succeeded", "Failed", timeout=90)
            asked_for_v3 = queries_answered(prometheus) - asked

    assert good.phase == "Succeeded", good.last_reason
    assert asked_for_v2 >= 4, "two checks per analysis tick, at least two ticks, all asked of Prometheus"
    assert bad.phase == "Failed", bad.last_reason
    assert asked_for_v3 >= 2
    assert "request-success-rate" in (bad.last_reason or "")
    checks = {c.name: c for c in bad.last_checks or []}
    assert checks["request-success-rate"].outcome == "fail"
    assert checks["request-success-rate"].value is not None and checks["request-success-rate"].value < 99
    assert checks["request-duration"].outcome == "pass"
    assert clients.versions()["v3"] > 0
