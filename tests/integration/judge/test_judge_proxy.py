"""The judge on what the real bundled proxy measures in front of real demo apps, via GET /stats/series.

Two services behind one `sluice proxy`, each split 50/50 between a primary and a canary process of
examples/app: `slow`, whose canary answers in 40 ms against its primary's 20 ms, and `equal`, whose canary
and primary both answer in 20 ms. Load runs until both sides of both services have enough per-second
buckets; then the runtime's check_runner judges each canary with the proxy's windows as its provider,
exactly as local mode does. The same canaries are judged a second time from a real Prometheus scraping
the proxy (query_range of the builtin queries, rendered once per side, at a 2 s step).
"""

from __future__ import annotations

import contextlib
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import yaml

from analysis.providers.prometheus import PrometheusProvider
from analysis.providers.proxy_window import ProxyWindowProvider
from analysis.providers.registry import builtin_provider
from controller.runtime.adapters import check_runner
from tests.harness.net import free_port, wait_for_http
from tests.harness.poll import wait_until
from tests.harness.processes import running
from tests.harness.prometheus import running_prometheus
from tests.unit.analysis.canaries import canary

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[3]
APP = ROOT / "examples" / "app" / "app.py"
# service -> (primary latency, canary latency)
SERVICES = {"slow": ("20ms", "40ms"), "equal": ("20ms", "20ms")}
MIN_SAMPLES = 8
GUARD = [{"name": "request-success-rate", "interval": "30s", "thresholdRange": {"min": 99}}]
JUDGE = {
    "passScore": 90,
    "marginalScore": 75,
    "interval": "30s",
    "step": "1s",
    "minSamples": MIN_SAMPLES,
    "metrics": [{"name": "request-success-rate", "critical": True}, {"name": "request-duration"}],
}


@dataclass(frozen=True)
class Mesh:
    proxy_ports: dict[str, int]
    admin: str
    admin_port: int
    work: Path


class Load:
    """Keep-alive clients sending GET / to each service until stopped (one thread per service); a client
    error is recorded as status 0."""

    def __init__(self, ports: dict[str, int]) -> None:
        self._stop = threading.Event()
        self.statuses: dict[str, list[int]] = {name: [] for name in ports}
        self._threads = [
            threading.Thread(target=self._run, args=(name, port), daemon=True) for name, port in ports.items()
        ]

    def _run(self, name: str, port: int) -> None:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=5) as client:
            while not self._stop.is_set():
                try:
                    self.statuses[name].append(client.get("/").status_code)
                except httpx.HTTPError:  # a slow moment on a shared machine must not end the load
                    self.statuses[name].append(0)

    def __enter__(self) -> Load:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=10)


@pytest.fixture(scope="module")
def mesh(tmp_path_factory) -> Iterator[Mesh]:
    work = tmp_path_factory.mktemp("judge")
    app_ports = {(name, side): free_port() for name in SERVICES for side in ("primary", "canary")}
    proxy_ports = {name: free_port() for name in SERVICES}
    admin_port = free_port()
    services = [
        {
            "name": name,
            "namespace": "test",
            "port": proxy_ports[name],
            "backends": {
                f"{name}-{side}": {"endpoints": [f"127.0.0.1:{app_ports[name, side]}"]}
                for side in ("primary", "canary")
            },
            "split": {f"{name}-primary": 50, f"{name}-canary": 50},
        }
        for name in SERVICES
    ]
    config = work / "proxy.yaml"
    config.write_text(yaml.safe_dump({"services": services}))
    with contextlib.ExitStack() as stack:
        for (name, side), port in app_ports.items():
            latency = SERVICES[name][0 if side == "primary" else 1]
            args = [sys.executable, str(APP), "--port", str(port), "--version", f"{name}-{side}"]
            stack.enter_context(running([*args, "--latency", latency], work / f"{name}-{side}.log"))
        for port in app_ports.values():
            wait_for_http(f"http://127.0.0.1:{port}/healthz")
        proxy = [sys.executable, "-m", "controller.cli.proxy", "--config", str(config), "--admin-port"]
        stack.enter_context(running([*proxy, str(admin_port)], work / "proxy.log", cwd=ROOT))
        admin = f"http://127.0.0.1:{admin_port}"
        wait_for_http(f"{admin}/healthz")
        yield Mesh(proxy_ports, admin, admin_port, work)


def _buckets(admin: str, service: str, backend: str) -> int:
    params = {"service": service, "backend": backend, "seconds": 30}
    return len(httpx.get(f"{admin}/stats/series", params=params, timeout=2).json()["buckets"])


def test_judge_fails_a_canary_twice_as_slow_and_passes_an_equal_one(mesh: Mesh):
    provider = builtin_provider(canary(GUARD, name="slow"), proxy_admin_url=mesh.admin)
    assert isinstance(provider, ProxyWindowProvider)
    run = check_runner(lambda c: provider, lambda name, namespace: None)
    subjects = _subjects(JUDGE)

    # before any traffic: no samples on either side, so the judge waits rather than deciding
    idle = run(subjects["equal"])
    assert idle[-1].name == "judge" and idle[-1].outcome == "insufficient-data", idle[-1].reason

    with Load(mesh.proxy_ports) as load:
        for name in SERVICES:
            for side in ("primary", "canary"):
                wait_until(
                    lambda name=name, side=side: (
                        _buckets(mesh.admin, name, f"{name}-{side}") >= MIN_SAMPLES + 1
                    ),
                    timeout=60,
                    interval=0.2,
                    what=f"{MIN_SAMPLES + 1} seconds of traffic on {name}-{side}",
                )
    assert all(statuses.count(200) > 20 for statuses in load.statuses.values()), load.statuses.keys()

    slow = {v.name: v for v in run(subjects["slow"])}
    assert slow["request-success-rate"].outcome == "pass"  # a fixed threshold sees nothing wrong
    assert slow["judge"].outcome == "fail", slow["judge"].reason
    assert slow["judge"].value == 50.0
    assert slow["judge"].reason.startswith("judge 50/100 < marginal 75: request-duration canary mean ")
    assert "vs primary" in slow["judge"].reason and "p<0.001" in slow["judge"].reason
    assert "backend=slow-primary" in slow["judge"].query

    equal = {v.name: v for v in run(subjects["equal"])}
    assert equal["judge"].outcome == "pass", equal["judge"].reason
    assert (equal["judge"].value, equal["judge"].reason) == (100.0, "judge 100/100 >= pass 90")


def _subjects(judge: dict) -> dict:
    analysis = {"interval": "10s", "threshold": 2, "stepWeight": 50, "metrics": GUARD, "judge": judge}
    return {name: canary(GUARD, name=name, analysis=analysis) for name in SERVICES}


@pytest.mark.prometheus
def test_judge_from_prometheus_query_range(mesh: Mesh):
    judge = {**JUDGE, "step": "2s", "minSamples": 6}
    with running_prometheus([f"127.0.0.1:{mesh.admin_port}"], mesh.work / "prometheus") as prometheus:
        provider = PrometheusProvider(prometheus.url)
        run = check_runner(lambda c: provider, lambda name, namespace: None)
        subjects = _subjects(judge)

        def points(name: str, side: str) -> int:
            query = f'sum(rate(sluice_proxy_requests_total{{service="{name}", backend="{name}-{side}"}}[2s]))'
            return len(provider.samples(query, 30, 2))

        with Load(mesh.proxy_ports):
            for name in SERVICES:
                for side in ("primary", "canary"):
                    wait_until(
                        lambda name=name, side=side: points(name, side) >= 8,
                        timeout=60,
                        interval=0.5,
                        what=f"Prometheus points of {name}-{side}",
                    )
            slow = {v.name: v for v in run(subjects["slow"])}
            equal = {v.name: v for v in run(subjects["equal"])}

    assert slow["judge"].outcome == "fail", slow["judge"].reason
    assert slow["judge"].reason.startswith("judge 50/100 < marginal 75: request-duration canary mean ")
    assert 'backend="slow-primary"' in slow["judge"].query and "[2s]" in slow["judge"].query
    assert equal["judge"].outcome == "pass", equal["judge"].reason
