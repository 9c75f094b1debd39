"""Spans of sampled requests, exported over OTLP/HTTP with JSON encoding to a collector.

An SDK span costs ~30 µs, more than the proxy's whole per-request budget (mesh.md §4.2), so there is no
SDK here: a request that is not sampled costs one random draw; a sampled one appends a tuple of what it
already knows to a bounded list. Turning tuples into OTLP JSON and POSTing them happens in a background
task every `flush_interval` (or as soon as a batch is full), never on the request path; when the
collector is slow or away, spans beyond MAX_QUEUED are dropped and counted, never waited for.

Ids: when the proxy started the trace, its span id is the parent id it forwarded upstream, so the app's
spans hang below the proxy's. When the caller sent a trace context (W3C or B3), the proxy forwards it
unchanged (tracing.py), so its span is a sibling-level child of the caller with a fresh id.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import re
import time
from typing import TYPE_CHECKING, Any

from mesh.proxy.config import Tracing
from mesh.proxy.config_watch import http_request

if TYPE_CHECKING:
    from collections.abc import Callable

    from mesh.proxy.exchange import Exchange
    from mesh.proxy.server import ClientRequest
    from mesh.proxy.services import BackendRuntime, ServiceRuntime

MAX_QUEUED = 4096
BATCH = 512
_TRACEPARENT = re.compile(rb"traceparent: 00-([0-9a-f]{32})-([0-9a-f]{16})-")
_random = random.random
_bits = random.getrandbits
_perf = time.perf_counter


def _attribute(key: str, value: Any) -> dict[str, Any]:
    if isinstance(value, bool):
        return {"key": key, "value": {"boolValue": value}}
    if isinstance(value, int):
        return {"key": key, "value": {"intValue": str(value)}}
    return {"key": key, "value": {"stringValue": str(value)}}


class SpanExporter:
    def __init__(self, tracing: Tracing, log: Callable[[str], None]) -> None:
        self.tracing = tracing
        self.rate = tracing.sampling
        self.log = log
        self.queued: list[tuple[Any, ...]] = []
        self.recorded = self.exported = self.dropped = self.failed_posts = 0
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closing = False

    def sampled(self) -> bool:
        return self.rate > 0 and _random() < self.rate

    def record(
        self,
        request: ClientRequest,
        exchange: Exchange,
        service: ServiceRuntime,
        route: str,
        backend: BackendRuntime | None,
        status: int,
        attempts: int,
        client_ip: str,
    ) -> None:
        """Queue one span (called only for sampled requests, with what the request already holds)."""
        if len(self.queued) >= MAX_QUEUED:
            self.dropped += 1
            return
        found = _TRACEPARENT.search(exchange.head)
        if found is None:
            return  # answered before a request went upstream (fault abort): no trace context was made
        lowered = request.lowered
        started_trace = (
            b"traceparent" not in lowered and b"x-b3-traceid" not in lowered and b"b3" not in lowered
        )
        self.recorded += 1
        end = time.time_ns()
        self.queued.append(
            (found.group(1), found.group(2), started_trace, request.method, request.url, lowered.get(b"host"),
             service.config.namespace, service.name, route, backend.name if backend else "", status, attempts,
             end - int((_perf() - exchange.started) * 1e9), end, client_ip)
        )  # fmt: skip
        if len(self.queued) >= BATCH:
            self._wake.set()

    def _span(self, item: tuple[Any, ...]) -> dict[str, Any]:
        (trace, forwarded, started_trace, method, path, host, namespace, service, route, backend, status,
         attempts, start, end, client_ip) = item  # fmt: skip
        span: dict[str, Any] = {
            "traceId": trace.decode(),
            "spanId": forwarded.decode() if started_trace else f"{_bits(64):016x}",
            "name": f"{method} {service}",
            "kind": 2,  # SPAN_KIND_SERVER: the proxy serves the caller's request
            "startTimeUnixNano": str(start),
            "endTimeUnixNano": str(end),
            "attributes": [
                _attribute("http.request.method", method),
                _attribute("url.path", path.split(b"?", 1)[0].decode("latin-1")),
                _attribute("http.response.status_code", status),
                _attribute("server.address", (host or b"").decode("latin-1")),
                _attribute("client.address", client_ip),
                _attribute("k8s.namespace.name", namespace),
                _attribute("sluice.service", service),
                _attribute("sluice.route", route),
                _attribute("sluice.backend", backend),
                _attribute("sluice.attempts", attempts),
            ],
            "status": {"code": 2, "message": f"HTTP {status}"} if status >= 500 else {"code": 0},
        }
        if not started_trace:
            span["parentSpanId"] = forwarded.decode()
        return span

    def payload(self, items: list[tuple[Any, ...]]) -> dict[str, Any]:
        """An OTLP ExportTraceServiceRequest in its JSON mapping."""
        return {
            "resourceSpans": [
                {
                    "resource": {"attributes": [_attribute("service.name", self.tracing.service_name)]},
                    "scopeSpans": [
                        {"scope": {"name": "sluice.mesh.proxy"}, "spans": [self._span(i) for i in items]}
                    ],
                }
            ]
        }

    # --- background ------------------------------------------------------------------------------

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        """Stop the task and send what is queued (once, briefly).

        A flag as well as a cancel: on Python 3.11 `asyncio.wait_for` can swallow a cancellation that
        arrives as its timeout fires (gh-86296), so the loop must also see that it is to end."""
        self._closing = True
        self._wake.set()
        if self._task is not None:
            self._task.cancel()
            await asyncio.wait({self._task}, timeout=2.0)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.flush(), 2.0)

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        interval = float(self.tracing.flush_interval)
        while not self._closing:
            timer = loop.call_later(interval, self._wake.set)
            await self._wake.wait()
            timer.cancel()
            self._wake.clear()
            if not self._closing:
                await self.flush()

    async def flush(self) -> None:
        while self.queued:
            batch, self.queued = self.queued[:BATCH], self.queued[BATCH:]
            body = json.dumps(self.payload(batch)).encode()
            try:
                status, answer = await http_request(
                    self.tracing.collector, "", 10.0, "POST", body, "application/json"
                )
                if not 200 <= status < 300:
                    raise OSError(f"HTTP {status}: {answer[:200].decode(errors='replace')}")
                self.exported += len(batch)
            except Exception as exc:  # the collector is away: these spans are lost, the proxy is not
                self.failed_posts += 1
                self.dropped += len(batch)
                self.log(f"OTLP export to {self.tracing.collector} failed, {len(batch)} spans dropped: {exc}")
                return
