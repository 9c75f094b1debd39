"""OTLP/HTTP JSON spans from the proxy to a collector: the shape a collector accepts, sampling, ids that
continue the caller's trace, and a collector that is away costing spans, never requests."""

from __future__ import annotations

import asyncio
import http.client
import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from mesh.proxy.app import Proxy
from mesh.proxy.config import parse_config
from tests.harness import processes
from tests.harness.net import free_port, wait_for_http
from tests.harness.poll import wait_until

APP = Path(__file__).parents[3] / "examples" / "app" / "app.py"
HEX = set("0123456789abcdef")


class Collector:
    """A local OTLP/HTTP receiver: records every POST to /v1/traces."""

    def __init__(self) -> None:
        self.posts: list[tuple[str, str, Any]] = []
        collector = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                collector.posts.append((self.path, self.headers.get("content-type", ""), json.loads(body)))
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1/traces"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def spans(self) -> list[dict[str, Any]]:
        return [
            span
            for _, _, body in self.posts
            for resource in body["resourceSpans"]
            for scope in resource["scopeSpans"]
            for span in scope["spans"]
        ]


@pytest.fixture
def collector():
    receiver = Collector()
    receiver.thread.start()
    yield receiver
    receiver.server.shutdown()
    receiver.server.server_close()


@pytest.fixture
def app(tmp_path):
    port = free_port()
    proc = processes.start(
        [sys.executable, str(APP), "--port", str(port), "--version", "v1"], tmp_path / "app.log"
    )
    try:
        wait_for_http(f"http://127.0.0.1:{port}/healthz")
        yield port
    finally:
        processes.stop(proc)


def config(app_port: int, listen: int, collector_url: str, sampling: float) -> Any:
    return parse_config({
        "services": [{"name": "podinfo", "namespace": "shop", "port": listen,
                      "backends": {"podinfo-primary": {"endpoints": [f"127.0.0.1:{app_port}"]}},
                      "split": {"podinfo-primary": 100}}],
        "tracing": {"collector": collector_url, "sampling": sampling, "flush_interval": "200ms"},
    })  # fmt: skip


def get(port: int, count: int, headers: dict[str, str] | None = None) -> list[int]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    statuses = []
    for _ in range(count):
        connection.request("GET", "/?id=1", headers=headers or {})
        response = connection.getresponse()
        response.read()
        statuses.append(response.status)
    connection.close()
    return statuses


def run_with_proxy(cfg: Any, scenario) -> None:
    async def main() -> None:
        proxy = Proxy(cfg, admin_port=None)
        await proxy.start()
        try:
            await scenario(proxy, asyncio.get_running_loop())
        finally:
            await proxy.stop()

    asyncio.run(main())


def test_sampled_requests_are_exported_as_otlp_json_continuing_the_callers_trace(app, collector):
    listen = free_port()
    trace, parent = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"

    async def scenario(proxy: Proxy, loop: asyncio.AbstractEventLoop) -> None:
        assert await loop.run_in_executor(None, get, listen, 10) == [200] * 10
        traced = {"traceparent": f"00-{trace}-{parent}-01"}
        assert await loop.run_in_executor(None, get, listen, 5, traced) == [200] * 5
        await loop.run_in_executor(None, lambda: wait_until(lambda: len(collector.spans()) == 15, timeout=10))

    run_with_proxy(config(app, listen, collector.url, 1.0), scenario)
    path, content_type, body = collector.posts[0]
    assert path == "/v1/traces" and content_type == "application/json"
    resource = body["resourceSpans"][0]
    assert {"key": "service.name", "value": {"stringValue": "sluice-proxy"}} in resource["resource"][
        "attributes"
    ]
    assert resource["scopeSpans"][0]["scope"]["name"] == "sluice.mesh.proxy"
    spans = collector.spans()
    for span in spans:
        assert len(span["traceId"]) == 32 and set(span["traceId"]) <= HEX
        assert len(span["spanId"]) == 16 and set(span["spanId"]) <= HEX
        assert span["name"] == "GET podinfo" and span["kind"] == 2
        assert int(span["startTimeUnixNano"]) <= int(span["endTimeUnixNano"])
        attributes = {a["key"]: a["value"] for a in span["attributes"]}
        assert attributes["http.request.method"] == {"stringValue": "GET"}
        assert attributes["http.response.status_code"] == {"intValue": "200"}
        assert attributes["url.path"] == {"stringValue": "/"}
        assert attributes["sluice.backend"] == {"stringValue": "podinfo-primary"}
        assert attributes["k8s.namespace.name"] == {"stringValue": "shop"}
        assert span["status"] == {"code": 0}
    continued = [s for s in spans if s["traceId"] == trace]
    assert len(continued) == 5 and all(
        s["parentSpanId"] == parent and s["spanId"] != parent for s in continued
    )
    started = [s for s in spans if s["traceId"] != trace]
    assert len(started) == 10 and all("parentSpanId" not in s for s in started)
    assert len({s["traceId"] for s in started}) == 10


def test_the_sampling_rate_decides_how_many_requests_get_a_span(app, collector):
    listen = free_port()
    counts: dict[str, int] = {}

    async def scenario(proxy: Proxy, loop: asyncio.AbstractEventLoop) -> None:
        assert await loop.run_in_executor(None, get, listen, 400) == [200] * 400
        tracer = proxy.tracer
        settled = lambda: tracer.recorded and tracer.exported + tracer.dropped == tracer.recorded  # noqa: E731
        await loop.run_in_executor(None, lambda: wait_until(settled, timeout=10, what="every span posted"))
        counts["exported"], counts["dropped"] = tracer.exported, tracer.dropped

    run_with_proxy(config(app, listen, collector.url, 0.25), scenario)
    assert 60 <= counts["exported"] <= 140 and counts["dropped"] == 0, counts  # 100 expected; sd ~8.7
    assert len(collector.spans()) == counts["exported"]


def test_a_collector_that_is_away_costs_spans_not_requests(app):
    listen, closed = free_port(), free_port()

    async def scenario(proxy: Proxy, loop: asyncio.AbstractEventLoop) -> None:
        assert await loop.run_in_executor(None, get, listen, 50) == [200] * 50
        tracer = proxy.tracer
        await loop.run_in_executor(None, lambda: wait_until(lambda: tracer.failed_posts >= 1, timeout=10))
        assert tracer.exported == 0 and tracer.dropped >= 1

    run_with_proxy(config(app, listen, f"http://127.0.0.1:{closed}/v1/traces", 1.0), scenario)
