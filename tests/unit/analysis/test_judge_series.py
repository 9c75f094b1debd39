"""The judge's samples from the bundled proxy: per-second buckets (mesh/proxy/windows.py), the admin's
GET /stats/series, and ProxyWindowProvider.samples over real HTTP against a stub of that contract."""

from __future__ import annotations

import asyncio
import json
import time
import urllib.parse
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from types import SimpleNamespace

import pytest

from analysis.providers.base import ProviderError
from analysis.providers.proxy_window import ProxyWindowProvider
from mesh.proxy.admin import AdminServer, HttpError
from mesh.proxy.config import parse_config
from mesh.proxy.windows import Window, Windows
from tests.harness.http_stub import serving
from tests.harness.net import free_port


def test_series_has_one_entry_per_second_with_requests():
    window = Window()
    for second in (1000, 1001, 1003):
        for latency in range(1, 11):
            window.record(second, float(latency), error=latency == 10 and second == 1003)
    series = window.series(1003, 3)  # seconds 1001..1003; 1002 saw nothing
    assert [entry["t"] for entry in series] == [-2, 0]
    last = series[-1]
    assert (last["requests"], last["errors"], last["success_rate"]) == (10, 1, 90.0)
    assert last["latency_ms_mean"] == 5.5
    assert 5 <= last["latency_ms_p50"] <= 5.5
    assert window.series(5000, 60) == []
    assert window.series(1003, 3600)[0]["t"] == -3


def _admin() -> tuple[AdminServer, Windows]:
    config = parse_config(
        {
            "services": [
                {
                    "name": "podinfo",
                    "port": 8080,
                    "backends": {"podinfo-primary": {"endpoints": ["127.0.0.1:1"]}},
                    "split": {"podinfo-primary": 100},
                }
            ]
        }
    )
    windows = Windows()
    return AdminServer(SimpleNamespace(config=config, windows=windows)), windows  # type: ignore[arg-type]


def test_admin_answers_stats_series():
    admin, windows = _admin()
    service = admin.proxy.config.services[0]
    window = windows.window(service.namespace, "podinfo", "podinfo-primary")
    now = int(time.perf_counter())  # the data plane's clock
    window.record(now - 1, 4.0, error=False)
    window.record(now, 8.0, error=True)
    status, content_type, body = asyncio.run(
        admin.handle("GET", "/stats/series?service=podinfo&backend=podinfo-primary&seconds=60", b"")
    )
    answer = json.loads(body)
    assert (status, content_type) == (200, "application/json")
    assert {k: answer[k] for k in ("service", "backend", "seconds")} == {
        "service": "podinfo",
        "backend": "podinfo-primary",
        "seconds": 60,
    }
    assert [(b["requests"], b["errors"], b["success_rate"]) for b in answer["buckets"]] == [
        (1, 0, 100.0),
        (1, 1, 0.0),
    ]
    for target, status in [
        ("/stats/series?service=podinfo&backend=nope&seconds=60", 404),
        ("/stats/series?service=podinfo&backend=podinfo-primary&seconds=0", 400),
        ("/stats/series?service=podinfo&backend=podinfo-primary", 400),
    ]:
        with pytest.raises(HttpError) as raised:
            asyncio.run(admin.handle("GET", target, b""))
        assert raised.value.status == status


# -- the provider over HTTP --

BUCKETS = [
    {
        "t": -5,
        "requests": 10,
        "errors": 0,
        "success_rate": 100.0,
        "latency_ms_p50": 4.0,
        "latency_ms_mean": 4.2,
    },
    {
        "t": -4,
        "requests": 10,
        "errors": 2,
        "success_rate": 80.0,
        "latency_ms_p50": 6.0,
        "latency_ms_mean": 6.1,
    },
    {"t": -1, "requests": 5, "errors": 5, "success_rate": 0.0, "latency_ms_p50": 9.0, "latency_ms_mean": 9.5},
]


class StubAdmin(BaseHTTPRequestHandler):
    asked: list[tuple[str, dict]] = []

    def do_GET(self) -> None:
        url = urllib.parse.urlsplit(self.path)
        params = {k: v[0] for k, v in urllib.parse.parse_qs(url.query).items()}
        StubAdmin.asked.append((url.path, params))
        known = params.get("backend") == "podinfo-canary"
        status = 500 if params.get("backend") == "broken" else 200 if known else 404
        body = json.dumps({**params, "buckets": BUCKETS}) if known else "unknown"
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body.encode())

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def admin_url() -> Iterator[str]:
    with serving(StubAdmin) as url:
        yield url


def test_provider_samples_per_step(admin_url):
    provider = ProxyWindowProvider(admin_url)
    query = "request-success-rate service=podinfo backend=podinfo-canary window=1s"
    assert provider.samples(query, 120, 1) == [100.0, 80.0, 0.0]
    assert StubAdmin.asked[-1] == (
        "/stats/series",
        {"service": "podinfo", "backend": "podinfo-canary", "seconds": "120"},
    )
    # two-second steps: [-5, -4] and [-1]; a step's success rate comes from its counts
    assert provider.samples(query, 120, 2) == [90.0, 0.0]
    duration = "request-duration service=podinfo backend=podinfo-canary window=1s"
    assert provider.samples(duration, 120, 1) == [4.0, 6.0, 9.0]
    assert provider.samples(duration, 120, 2) == [5.0, 9.0]  # median of the seconds' p50s
    count = "request-count service=podinfo backend=podinfo-canary window=1s"
    assert provider.samples(count, 120, 10) == [25.0]


def test_provider_samples_of_an_unknown_backend_are_empty_and_errors_are_provider_errors(admin_url):
    provider = ProxyWindowProvider(admin_url)
    assert provider.samples("request-duration service=podinfo backend=other window=1s", 60, 1) == []
    with pytest.raises(ProviderError, match="answered 500"):
        provider.samples("request-duration service=podinfo backend=broken window=1s", 60, 1)
    with pytest.raises(ProviderError, match="unreachable"):
        ProxyWindowProvider(f"http://127.0.0.1:{free_port()}").samples(
            "request-duration service=podinfo backend=podinfo-canary window=1s", 60, 1
        )
