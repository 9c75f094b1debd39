"""The proxy-window provider over real HTTP, against a stub of the proxy admin's /stats/window contract."""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler

import pytest

from analysis.checks import run_checks
from analysis.providers.base import NoValues, ProviderError
from analysis.providers.proxy_window import ProxyWindowProvider
from tests.harness.http_stub import serving
from tests.harness.net import free_port
from tests.unit.analysis.canaries import canary

WINDOWS = {
    ("podinfo", "podinfo-canary"): {
        "requests": 200,
        "errors": 4,
        "success_rate": 98.0,
        "latency_ms": {"p50": 3.0, "p90": 8.0, "p99": 41.5},
    },
    ("idle", "idle-canary"): {"requests": 0, "errors": 0, "success_rate": None, "latency_ms": None},
}


class StubAdmin(BaseHTTPRequestHandler):
    asked: list[dict] = []

    def do_GET(self) -> None:
        url = urllib.parse.urlsplit(self.path)
        params = {k: v[0] for k, v in urllib.parse.parse_qs(url.query, keep_blank_values=True).items()}
        StubAdmin.asked.append(params)
        window = WINDOWS.get((params.get("service"), params.get("backend")))
        body = json.dumps({**params, "seconds": int(params["seconds"]), **window}) if window else "unknown"
        self.send_response(200 if window else 404)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body.encode())

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def admin() -> Iterator[str]:
    with serving(StubAdmin) as url:
        yield url


def test_stats_of_the_canary_backend(admin):
    provider = ProxyWindowProvider(admin)
    query = "service=podinfo backend=podinfo-canary window=1m30s"
    assert provider.query(f"request-success-rate {query}") == 98.0
    assert provider.query(f"request-duration {query}") == 41.5
    assert provider.query(f"request-count {query}") == 200.0
    assert StubAdmin.asked[-1] == {"service": "podinfo", "backend": "podinfo-canary", "seconds": "90"}
    assert provider.is_online()


def test_no_requests_and_unknown_backends_are_no_values(admin):
    provider = ProxyWindowProvider(admin)
    with pytest.raises(NoValues, match="no requests to idle-canary in the last 60s"):
        provider.query("request-success-rate service=idle backend=idle-canary window=1m")
    with pytest.raises(NoValues, match="the proxy knows no backend 'x-canary' of service 'x'"):
        provider.query("request-duration service=x backend=x-canary window=1m")


@pytest.mark.parametrize(
    "text", ["", "p99 service=a backend=b window=1m", "request-count service=a", "request-count a b c"]
)
def test_malformed_queries_are_provider_errors(admin, text):
    with pytest.raises(ProviderError, match="proxy-window query"):
        ProxyWindowProvider(admin).query(text)


def test_proxy_down():
    down = ProxyWindowProvider(f"http://127.0.0.1:{free_port()}")
    assert not down.is_online()
    with pytest.raises(ProviderError, match="unreachable"):
        down.query("request-count service=a backend=b window=1m")


def test_local_mode_checks_use_the_windows(admin):
    metrics = [
        {"name": "request-success-rate", "thresholdRange": {"min": 99}},
        {"name": "request-duration", "thresholdRange": {"max": 500}},
    ]
    verdicts = run_checks(canary(metrics), builtin=ProxyWindowProvider(admin))
    assert [(v.outcome, v.reason) for v in verdicts] == [
        ("fail", "request-success-rate 98.00% < min 99%"),
        ("pass", "request-duration 41.50ms <= max 500ms"),
    ]
    idle = canary(metrics, targetRef={"apiVersion": "apps/v1", "kind": "Deployment", "name": "idle"})
    assert [v.outcome for v in run_checks(idle, builtin=ProxyWindowProvider(admin))] == ["no-data", "no-data"]
