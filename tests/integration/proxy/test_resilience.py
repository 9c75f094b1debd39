"""Retries, timeouts, outlier ejection, fault injection, mirroring and failure handling, end to end."""

from __future__ import annotations

import socket
import time
import urllib.request
from collections import Counter

from tests.harness.poll import wait_until
from tests.integration.proxy.conftest import Client, canary_service


def _fail_next(endpoint: str, n: int) -> None:
    urllib.request.urlopen(f"http://{endpoint}/_fail_next?n={n}", timeout=5).read()


def _count(endpoint: str) -> int:
    import json

    return json.loads(urllib.request.urlopen(f"http://{endpoint}/_count", timeout=5).read())["count"]


def _metric(text: str, name: str, **labels: str) -> float:
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name + "{") and all(f'{k}="{v}"' in line for k, v in labels.items()):
            total += float(line.rsplit(" ", 1)[1])
    return total


def test_retries_turn_a_5xx_into_success_and_are_counted(upstream, proxy):
    primary = upstream("primary")
    service = canary_service(primary, upstream("canary"), resilience={"retries": {"attempts": 2}})
    running = proxy({"services": [service]})
    client = running.client()
    _fail_next(primary, 2)
    assert client.request().status == 200
    _fail_next(primary, 3)
    assert client.request().status == 503  # three tries, all failed
    _fail_next(primary, 1)
    assert client.request("POST", "/", body=b"x").status == 503  # not idempotent: no retry
    assert _metric(running.admin.metrics(), "sluice_proxy_retries_total", service="podinfo") == 4


def test_request_timeout_and_per_try_timeout(upstream, proxy):
    service = canary_service(
        upstream("primary"),
        upstream("canary"),
        resilience={"timeout": "300ms", "retries": {"attempts": 1, "per_try_timeout": "100ms"}},
    )
    running = proxy({"services": [service]})
    client = running.client()
    started = time.monotonic()
    assert client.request(path="/?delay=2").status == 504
    assert time.monotonic() - started < 1.5
    assert client.request(path="/?delay=0.01").status == 200


def test_consecutive_5xx_eject_an_endpoint_and_traffic_moves_to_the_healthy_one(upstream, proxy):
    bad, good = upstream("bad"), upstream("good")
    service = canary_service(bad, upstream("canary"))
    service["backends"]["podinfo-primary"] = {"endpoints": [bad, good], "balancing": "round-robin"}
    service["resilience"] = {"outlier": {"consecutive_5xx": 3, "base_ejection": "30s"}}
    running = proxy({"services": [service]})
    _fail_next(bad, 1000)
    client = running.client()
    statuses = Counter(client.request().status for _ in range(40))
    assert statuses[503] == 3, statuses  # exactly the three failures that tripped ejection
    assert Counter(client.request().backend for _ in range(20)) == {"good": 20}
    ejections = _metric(running.admin.metrics(), "sluice_proxy_ejections_total", endpoint=bad)
    assert ejections == 1


def test_fault_injection_aborts_and_delays_the_configured_share(upstream, proxy):
    service = canary_service(upstream("primary"), upstream("canary"))
    service["routes"] = [
        {
            "name": "abort",
            "match": [{"headers": {"x-fault": {"exact": "abort"}}}],
            "split": {"podinfo-primary": 100},
            "resilience": {"fault": {"abort": {"percent": 50, "status": 418}}},
        },
        {
            "name": "delay",
            "match": [{"headers": {"x-fault": {"exact": "delay"}}}],
            "split": {"podinfo-primary": 100},
            "resilience": {"fault": {"delay": {"percent": 100, "duration": "200ms"}}},
        },
    ]
    running = proxy({"services": [service]})
    client = running.client()
    statuses = Counter(client.request(x_fault="abort").status for _ in range(400))
    assert set(statuses) == {200, 418} and 150 <= statuses[418] <= 250, statuses
    started = time.monotonic()
    assert client.request(x_fault="delay").status == 200
    assert time.monotonic() - started >= 0.2
    assert Counter(client.request().status for _ in range(50)) == {200: 50}  # other routes untouched


def test_mirrored_traffic_reaches_the_shadow_and_never_changes_the_response(upstream, proxy):
    primary, canary = upstream("primary"), upstream("canary")
    service = canary_service(primary, canary, mirror={"backend": "podinfo-canary", "percent": 100})
    running = proxy({"services": [service]})
    _fail_next(canary, 1000)  # the shadow is broken
    client = running.client()
    replies = [client.request("POST", "/order", body=b"payload") for _ in range(30)]
    assert {(r.status, r.backend) for r in replies} == {(200, "primary")}
    wait_until(lambda: _count(canary) == 30, timeout=10, what="30 mirrored requests at the shadow")
    assert _metric(running.admin.metrics(), "sluice_proxy_mirrored_requests_total") == 30


def test_an_upstream_dying_mid_response_gives_502_not_a_hang(upstream, proxy):
    running = proxy({"services": [canary_service(upstream("primary"), upstream("canary"))]})
    client = running.client()
    assert client.request(path="/?die=1").status == 502
    assert client.request().status == 200


def test_unreachable_endpoint_gives_502_and_overflow_gives_503(upstream, proxy):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        dead = f"127.0.0.1:{probe.getsockname()[1]}"
    running = proxy({"services": [canary_service(dead, upstream("canary"))]})
    assert running.client().request().status == 502


def test_malformed_requests_get_400_and_the_proxy_keeps_serving(upstream, proxy):
    running = proxy({"services": [canary_service(upstream("primary"), upstream("canary"))]})
    for garbage in (
        b"NOT HTTP AT ALL\r\n\r\n",
        b"GET / HTTP/1.1\r\nContent-Length: x\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
    ):
        with socket.create_connection(("127.0.0.1", running.port), timeout=5) as sock:
            sock.sendall(garbage)
            answer = sock.recv(4096)
            assert answer.startswith(b"HTTP/1.1 400"), answer
    assert Client(running.port).request().status == 200


def test_clients_that_leave_mid_request_are_cleaned_up(upstream, proxy):
    running = proxy({"services": [canary_service(upstream("primary"), upstream("canary"))]})
    for path in ("/?delay=0.3", "/?size=5000000&chunked=1"):
        for _ in range(3):
            with socket.create_connection(("127.0.0.1", running.port), timeout=5) as sock:
                sock.sendall(b"GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % path.encode())
                if "size" in path:
                    sock.recv(1000)  # the download has started
    wait_until(
        lambda: (
            'sluice_proxy_requests_in_flight{namespace="default",service="podinfo"} 0'
            in running.admin.metrics()
        ),
        timeout=10,
        what="no request left in flight",
    )
    assert Client(running.port).request().status == 200


def test_a_client_that_half_closes_still_gets_its_answers(upstream, proxy, tmp_path):
    running = proxy({"services": [canary_service(upstream("primary"), upstream("canary"))]})
    with socket.create_connection(("127.0.0.1", running.port), timeout=5) as sock:
        sock.sendall(b"GET /?delay=0.2 HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n")
        sock.shutdown(socket.SHUT_WR)  # EOF while the first request is upstream, the second queued
        received = b""
        while chunk := sock.recv(65536):  # then the proxy closes its side: no hang
            received += chunk
    assert received.count(b"HTTP/1.1 200") == 2, received[:300]
    assert b"connection: close" in received
    assert Client(running.port).request().status == 200
    wait_until(
        lambda: (
            'sluice_proxy_requests_in_flight{namespace="default",service="podinfo"} 0'
            in running.admin.metrics()
        ),
        timeout=10,
        what="the half-closed client's request to finish",
    )
    assert "eof_received" not in (tmp_path / "proxy-0.log").read_text()
