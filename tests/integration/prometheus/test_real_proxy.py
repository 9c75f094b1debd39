"""Builtin checks on what the real bundled proxy measures in front of the real demo app.

Three canaries behind one `sluice proxy`: `healthy` (examples/app), `faulty` (the app failing every fifth
request) and `idle` (all traffic to its primary). Judged twice: by Prometheus scraping the proxy's
/metrics, and by the proxy's own windows (local mode). The proxy exports a status-class counter only
once it is non-zero, and rate() cannot count a series' first sample, so each canary gets a warm-up that
Prometheus scrapes before the measured traffic.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import yaml

from analysis.checks import run_checks
from analysis.providers.prometheus import PrometheusProvider
from analysis.providers.proxy_window import ProxyWindowProvider
from tests.harness.net import free_port, wait_for_http
from tests.harness.poll import wait_until
from tests.harness.processes import running
from tests.harness.prometheus import PrometheusServer, running_prometheus
from tests.unit.analysis.canaries import canary

pytestmark = pytest.mark.prometheus

ROOT = Path(__file__).resolve().parents[3]
APP = ROOT / "examples" / "app" / "app.py"
# service -> (demo app flags, canary weight); `idle` sends everything to its primary.
CANARIES = {"healthy": ([], 100), "faulty": (["--error-rate", "0.2"], 100), "idle": ([], 0)}
METRICS = [
    {"name": "request-success-rate", "interval": "1m", "thresholdRange": {"min": 99}},
    {"name": "request-duration", "interval": "1m", "thresholdRange": {"max": 500}},
]


@dataclass(frozen=True)
class Mesh:
    proxy_ports: dict[str, int]
    admin: str
    prometheus: PrometheusServer

    def send(self, service: str, count: int) -> None:
        """`count` requests to the service through the proxy, then wait until Prometheus scraped them all."""
        before = self._scraped(service)
        with httpx.Client(base_url=f"http://127.0.0.1:{self.proxy_ports[service]}", timeout=5) as client:
            statuses = [client.get("/").status_code for _ in range(count)]
        assert set(statuses) <= {200, 500}
        wait_until(lambda: self._scraped(service) == before + count, timeout=10, what=f"{service} scraped")
        if before == 0:  # warm-up: let every status class be scraped once before the measured traffic
            classes = len(set(statuses))
            series = f'count(sluice_proxy_requests_total{{service="{service}"}})'
            wait_until(lambda: self.prometheus.value(series) == classes, timeout=10, what="series scraped")

    def _scraped(self, service: str) -> float:
        return self.prometheus.value(f'sum(sluice_proxy_requests_total{{service="{service}"}})') or 0.0


@pytest.fixture(scope="module")
def mesh(tmp_path_factory) -> Iterator[Mesh]:
    work = tmp_path_factory.mktemp("proxy")
    app_ports = {name: free_port() for name in CANARIES}
    proxy_ports = {name: free_port() for name in CANARIES}
    admin_port = free_port()
    services = [
        {
            "name": name,
            "namespace": "test",
            "port": proxy_ports[name],
            "backends": {
                f"{name}-primary": {"endpoints": [f"127.0.0.1:{app_ports[name]}"]},
                f"{name}-canary": {"endpoints": [f"127.0.0.1:{app_ports[name]}"]},
            },
            "split": {f"{name}-primary": 100 - weight, f"{name}-canary": weight},
        }
        for name, (_, weight) in CANARIES.items()
    ]
    config = work / "proxy.yaml"
    config.write_text(yaml.safe_dump({"services": services}))
    with contextlib.ExitStack() as stack:
        for name, (flags, _) in CANARIES.items():
            args = [sys.executable, str(APP), "--port", str(app_ports[name]), "--version", name, *flags]
            stack.enter_context(running(args, work / f"{name}.log"))
            wait_for_http(f"http://127.0.0.1:{app_ports[name]}/healthz")
        proxy = [
            sys.executable,
            "-m",
            "controller.cli.proxy",
            "--config",
            str(config),
            "--admin-port",
            str(admin_port),
        ]
        stack.enter_context(running(proxy, work / "proxy.log", cwd=ROOT))
        admin = f"http://127.0.0.1:{admin_port}"
        wait_for_http(f"{admin}/metrics")
        prometheus = stack.enter_context(running_prometheus([f"127.0.0.1:{admin_port}"], work))
        yield Mesh(proxy_ports, admin, prometheus)


def test_proxy_measured_canaries_judged_by_prometheus_and_by_proxy_windows(mesh: Mesh):
    for name in CANARIES:
        mesh.send(name, 10)  # warm-up
        mesh.send(name, 100)
    prometheus = PrometheusProvider(mesh.prometheus.url)
    windows = ProxyWindowProvider(mesh.admin)

    healthy = run_checks(canary(METRICS, name="healthy"), builtin=prometheus)
    assert [v.outcome for v in healthy] == ["pass", "pass"], [v.reason for v in healthy]
    assert healthy[0].value == 100.0

    faulty = run_checks(canary(METRICS, name="faulty"), builtin=prometheus)
    assert [v.outcome for v in faulty] == ["fail", "pass"], [v.reason for v in faulty]
    assert faulty[0].value == pytest.approx(80.0, abs=2)

    local_healthy = run_checks(canary(METRICS, name="healthy"), builtin=windows)
    assert [v.outcome for v in local_healthy] == ["pass", "pass"]
    assert local_healthy[0].value == 100.0
    local_faulty = run_checks(canary(METRICS, name="faulty"), builtin=windows)
    assert [v.outcome for v in local_faulty] == ["fail", "pass"]
    assert local_faulty[0].reason == "request-success-rate 80.00% < min 99%"  # 22 of 110 failed

    for provider in (prometheus, windows):
        idle = run_checks(canary(METRICS, name="idle"), builtin=provider)
        assert [v.outcome for v in idle] == ["no-data", "no-data"], [v.reason for v in idle]
        assert (
            idle[0].reason
            == "request-success-rate: insufficient data, canary served 0 requests in 1m (needs 1)"
        )
