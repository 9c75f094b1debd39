"""Weighted splits, A/B matches, sticky sessions and HTTP correctness through a real proxy process."""

from __future__ import annotations

import json
import re
import socket
from collections import Counter

from tests.integration.proxy.conftest import canary_service


def test_ninety_ten_split_over_2000_requests_lands_within_three_points(upstream, proxy):
    service = canary_service(upstream("primary"), upstream("canary"))
    service["split"] = {"podinfo-primary": 90, "podinfo-canary": 10}
    running = proxy({"services": [service]})
    client = running.client()
    seen = Counter(client.request(path="/").backend for _ in range(2000))
    assert set(seen) == {"primary", "canary"}
    assert abs(seen["canary"] / 2000 * 100 - 10) <= 3, seen


def test_header_cookie_path_and_method_matches_route_exactly(upstream, proxy):
    service = canary_service(upstream("primary"), upstream("canary"))
    service["routes"] = [
        {
            "name": "by-header",
            "match": [{"headers": {"x-canary": {"exact": "insider"}}}],
            "split": {"podinfo-canary": 100},
        },
        {
            "name": "by-cookie",
            "match": [{"cookies": {"canary": {"exact": "always"}}}],
            "split": {"podinfo-canary": 100},
        },
        {
            "name": "by-prefix-and-method",
            "match": [
                {"path": {"prefix": "/beta/"}, "method": ["POST"]},
                {"headers": {"user-agent": {"regex": ".*Firefox.*"}}},
            ],
            "split": {"podinfo-canary": 100},
        },
    ]
    running = proxy({"services": [service]})
    client = running.client()
    for _ in range(20):
        assert client.request(x_canary="insider").backend == "canary"
        assert client.request(x_canary="insider-not").backend == "primary"
        assert client.request(cookie="a=1; canary=always; b=2").backend == "canary"
        assert client.request(cookie="canary=never").backend == "primary"
        assert client.request("POST", "/beta/x", body=b"{}").backend == "canary"
        assert client.request("GET", "/beta/x").backend == "primary"
        assert client.request(user_agent="Mozilla/5.0 Firefox/120").backend == "canary"
        assert client.request().backend == "primary"


def test_sticky_cookie_keeps_a_client_on_its_backend_during_a_canary(upstream, proxy):
    service = canary_service(upstream("primary"), upstream("canary"), sticky={"cookie": "sluice-podinfo"})
    service["split"] = {"podinfo-primary": 50, "podinfo-canary": 50}
    running = proxy({"services": [service]})
    client = running.client()
    first = client.request()
    cookie = first.headers["set-cookie"]
    assert cookie.startswith(f"sluice-podinfo=podinfo-{first.backend};")
    pinned = {client.request(cookie=cookie.split(";")[0]).backend for _ in range(50)}
    assert pinned == {first.backend}


def test_forwarding_headers_trace_context_and_hop_by_hop_handling(upstream, proxy):
    running = proxy({"services": [canary_service(upstream("primary"), upstream("canary"))]})
    client = running.client()
    seen = client.request(x_forwarded_for="10.0.0.1", keep_alive="timeout=5", x_custom="kept").json["headers"]
    assert seen["x-forwarded-for"] == "10.0.0.1, 127.0.0.1"
    assert "sluice" in seen["via"]
    assert "keep-alive" not in seen and seen["x-custom"] == "kept"
    assert re.fullmatch(r"00-[0-9a-f]{32}-[0-9a-f]{16}-01", seen["traceparent"])
    assert seen["x-b3-traceid"] == seen["traceparent"].split("-")[1]
    incoming = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    kept = client.request(traceparent=incoming).json["headers"]
    assert kept["traceparent"] == incoming and kept["x-b3-traceid"] == "0af7651916cd43dd8448eb211c80319c"


def test_bodies_of_any_size_stream_both_ways(upstream, proxy):
    running = proxy({"services": [canary_service(upstream("primary"), upstream("canary"))]})
    client = running.client()
    big = bytes(range(256)) * 4096  # 1 MiB
    echoed = client.request("POST", "/upload", body=big).json
    assert echoed["body_length"] == len(big) and echoed["body_sum"] == sum(big) % 65521
    chunked = client.request("POST", "/upload", body=iter([big[:1000], big[1000:]]), chunked=True)
    assert chunked.json["body_length"] == len(big)
    download = client.request(path="/?size=3000000&chunked=1")
    assert download.status == 200 and len(download.body) == 3_000_000
    assert client.request("HEAD", "/").status == 200
    assert client.request().status == 200  # the connection is still in step after HEAD


def test_requests_for_an_unknown_host_get_404_when_every_service_names_hosts(upstream, proxy):
    service = canary_service(upstream("primary"), upstream("canary"), hosts=["podinfo.local"])
    running = proxy({"services": [service]})
    client = running.client()
    assert client.request(host="podinfo.local:80").backend == "primary"
    assert client.request(host="other.local").status == 404


def _read_responses(sock, count: int) -> list[bytes]:
    """Read `count` content-length framed responses from a raw socket."""
    data, replies = b"", []
    while len(replies) < count:
        chunk = sock.recv(65536)
        assert chunk, f"connection closed after {len(replies)} responses"
        data += chunk
        while b"\r\n\r\n" in data:
            head, _, rest = data.partition(b"\r\n\r\n")
            length = int(re.search(rb"(?i)content-length: (\d+)", head).group(1))
            if len(rest) < length:
                break
            replies.append(head + b"\r\n\r\n" + rest[:length])
            data = rest[length:]
    return replies


def test_pipelined_requests_are_answered_in_order_and_http10_clients_are_served(upstream, proxy):
    running = proxy({"services": [canary_service(upstream("primary"), upstream("canary"))]})
    with socket.create_connection(("127.0.0.1", running.port), timeout=10) as sock:
        sock.sendall(b"".join(b"GET /n%d HTTP/1.1\r\nHost: x\r\n\r\n" % i for i in range(5)))
        replies = _read_responses(sock, 5)
    paths = [json.loads(reply.split(b"\r\n\r\n", 1)[1])["path"] for reply in replies]
    assert paths == [f"/n{i}" for i in range(5)]
    with socket.create_connection(("127.0.0.1", running.port), timeout=10) as sock:
        sock.sendall(b"GET /old HTTP/1.0\r\n\r\n")
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk  # the proxy closes after answering an HTTP/1.0 request
    assert answer.startswith(b"HTTP/1.1 200") and b'"path": "/old"' in answer
