"""Big bodies both ways over proxy-to-proxy mTLS: what uvloop decrypts into the shared read buffer
(mesh/proxy/tls.py) arrives intact, with several connections at once.

    client ──> web proxy ──mTLS──> api proxy (mTLS listener) ──> app
"""

from __future__ import annotations

import http.client
import json
import random
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from mesh.identity import CertificateAuthority
from tests.harness.net import free_port
from tests.harness.processes import stop
from tests.integration.mesh.mtls_rig import (
    identity,
    inbound,
    issue_files,
    outbound,
    start_proxy,
    start_upstream,
)


@pytest.fixture(scope="module")
def web_port(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    folder = tmp_path_factory.mktemp("bodies")
    ca = CertificateAuthority.generate()
    app, app_port = start_upstream(folder, "app")
    procs = [app]
    try:
        api_port, port = free_port(), free_port()
        api = start_proxy(
            folder, "api", inbound("api", api_port, app_port, {"files": issue_files(ca, folder, "api")})
        )
        procs.append(api.proc)
        web_tls = {"files": issue_files(ca, folder, "web")}
        procs.append(
            start_proxy(folder, "web", outbound("api", port, api_port, identity("api"), web_tls)).proc
        )
        yield port
    finally:
        for proc in procs:
            stop(proc)


def _exchange(port: int, seed: int) -> tuple[int, int, int, int, int]:
    """POST a random body of 0.3-1.5 MB and ask for a response body of a random size; what came back."""
    rng = random.Random(seed)
    body = rng.randbytes(rng.randrange(300_000, 1_500_000))
    size = rng.randrange(100_000, 2_000_000)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("POST", "/upload", body)
        echo = json.loads(conn.getresponse().read())
        conn.request("GET", f"/download?size={size}")
        downloaded = conn.getresponse().read()
    finally:
        conn.close()
    return echo["body_length"], len(body), echo["body_sum"], sum(body) % 65521, len(downloaded) - size


def test_big_bodies_cross_the_mtls_hop_intact_on_concurrent_connections(web_port: int) -> None:
    with ThreadPoolExecutor(6) as pool:
        results = list(pool.map(lambda seed: _exchange(web_port, seed), range(12)))
    for got_length, sent_length, got_sum, sent_sum, download_excess in results:
        assert (got_length, got_sum, download_excess) == (sent_length, sent_sum, 0)
