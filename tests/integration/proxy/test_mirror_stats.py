"""Mirrored copies are counted under the shadow backend: its window and its request/latency metrics.

Judging a shadow on the copies it served is what mirroring is for: a blue/green canary with `mirror`, or
a canary's mirror pre-stage, gets no other traffic, so without this the analysis only ever sees
"insufficient data". The client's answers and the primary's own figures stay as they were.
"""

from __future__ import annotations

import socket
import urllib.request

from tests.harness.poll import wait_until
from tests.integration.proxy.conftest import canary_service

MIRROR = {"backend": "podinfo-canary", "percent": 100}


def _fail_next(endpoint: str, n: int) -> None:
    urllib.request.urlopen(f"http://{endpoint}/_fail_next?n={n}", timeout=5).read()


def _metric(text: str, name: str, **labels: str) -> float:
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name + "{") and all(f'{k}="{v}"' in line for k, v in labels.items()):
            total += float(line.rsplit(" ", 1)[1])
    return total


def test_copies_are_recorded_with_their_outcome_and_latency(upstream, proxy):
    primary, canary = upstream("primary"), upstream("canary")
    running = proxy({"services": [canary_service(primary, canary, mirror=MIRROR)]})
    _fail_next(canary, 10)
    client = running.client()
    replies = [client.request(path="/?delay=0.05") for _ in range(40)]
    assert {(r.status, r.backend) for r in replies} == {(200, "primary")}

    def shadow() -> dict:
        return running.admin.window("podinfo", "podinfo-canary", 60)

    wait_until(lambda: shadow()["requests"] == 40, timeout=10, what="40 copies in the shadow's window")
    window = shadow()
    assert window["errors"] == 10
    assert window["success_rate"] == 75.0
    assert window["latency_ms"]["p50"] >= 50
    main = running.admin.window("podinfo", "podinfo-primary", 60)
    assert (main["requests"], main["errors"]) == (40, 0)

    text = running.admin.metrics()
    requests = "sluice_proxy_requests_total"
    assert _metric(text, requests, backend="podinfo-canary", status_class="5xx") == 10
    assert _metric(text, requests, backend="podinfo-canary", status_class="2xx") == 30
    assert _metric(text, requests, backend="podinfo-primary", status_class="2xx") == 40
    assert _metric(text, "sluice_proxy_request_duration_seconds_count", backend="podinfo-canary") == 40
    assert _metric(text, "sluice_proxy_mirrored_requests_total") == 40


def test_a_shadow_that_cannot_be_reached_counts_as_failed_copies(upstream, proxy):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        dead = f"127.0.0.1:{probe.getsockname()[1]}"
    running = proxy({"services": [canary_service(upstream("primary"), dead, mirror=MIRROR)]})
    client = running.client()
    assert {client.request().status for _ in range(5)} == {200}
    wait_until(
        lambda: running.admin.window("podinfo", "podinfo-canary", 60)["errors"] == 5,
        timeout=10, what="5 failed copies",
    )
    assert running.admin.window("podinfo", "podinfo-canary", 60)["requests"] == 5
