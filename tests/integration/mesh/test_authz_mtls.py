"""TrafficTargets over proxy-to-proxy mTLS, with real proxy processes on 127.0.0.1.

web proxy  ──mTLS──┐
                   ├──> api proxy (mTLS listener, TrafficTarget: web may GET /products) ──> app
batch proxy ─mTLS──┘
"""

from __future__ import annotations

import http.client
import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from mesh.identity import CertificateAuthority
from tests.harness.net import free_port
from tests.harness.poll import wait_until
from tests.harness.processes import stop
from tests.integration.mesh.mtls_rig import (
    ProxyProcess,
    client_context,
    get,
    identity,
    inbound,
    issue_files,
    outbound,
    start_proxy,
    start_upstream,
)

TRAFFIC_TARGET = {
    "name": "api-from-web",
    "namespace": "shop",
    "destination": {"kind": "ServiceAccount", "name": "api", "namespace": "shop"},
    "sources": [{"kind": "ServiceAccount", "name": "web", "namespace": "shop"}],
    "rules": [{"name": "api-reads", "matches": [{"path": {"regex": "/products(/.*)?"}, "method": ["GET"]}]}],
}


@dataclass
class Mesh:
    api: ProxyProcess
    impostor: ProxyProcess
    api_port: int
    web_port: int
    batch_port: int
    impostor_port: int
    files: dict[str, dict[str, str]]


@pytest.fixture(scope="module")
def mesh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mesh]:
    folder: Path = tmp_path_factory.mktemp("authz")
    ca = CertificateAuthority.generate()
    files = {name: {"files": issue_files(ca, folder, name)} for name in ("api", "web", "batch")}
    app, app_port = start_upstream(folder, "app")
    procs = [app]
    try:
        api_port, web_port, batch_port, impostor_port = (free_port() for _ in range(4))
        api = start_proxy(
            folder, "api", inbound("api", api_port, app_port, files["api"], traffic_targets=[TRAFFIC_TARGET])
        )
        procs.append(api.proc)
        proxies: dict[str, ProxyProcess] = {}
        for name, port, expected in (
            ("web", web_port, identity("api")),
            ("batch", batch_port, identity("api")),
            ("web-expects-db", impostor_port, identity("db")),  # the api proxy is not who it expects
        ):
            tls = files[name.split("-")[0]]
            proxies[name] = start_proxy(folder, name, outbound("api", port, api_port, expected, tls))
            procs.append(proxies[name].proc)
        yield Mesh(
            api,
            proxies["web-expects-db"],
            api_port,
            web_port,
            batch_port,
            impostor_port,
            {k: v["files"] for k, v in files.items()},
        )
    finally:
        for proc in procs:
            stop(proc)


def test_a_listed_identity_reaches_the_app_over_mtls(mesh: Mesh) -> None:
    status, body = get(mesh.web_port, "GET", "/products/7")
    assert status == 200, body
    assert b'"backend": "app"' in body or b'"backend":"app"' in body


def test_an_unlisted_identity_gets_403_with_the_reason_and_is_counted(mesh: Mesh) -> None:
    before = mesh.api.metric("sluice_proxy_denied_requests_total", source=identity("batch"))
    status, body = get(mesh.batch_port, "GET", "/products/7")
    assert status == 403
    assert body.decode().strip() == (
        f"access denied: no TrafficTarget allows {identity('batch')} to reach {identity('api')}"
    )
    after = mesh.api.metric(
        "sluice_proxy_denied_requests_total", namespace="shop", service="api", source=identity("batch")
    )
    assert after == before + 1


def test_a_listed_identity_outside_its_route_group_gets_403(mesh: Mesh) -> None:
    status, body = get(mesh.web_port, "DELETE", "/products/7")
    assert status == 403
    assert b"no TrafficTarget rule allows DELETE /products/7" in body
    assert get(mesh.web_port, "GET", "/admin")[0] == 403


def test_a_client_checks_the_servers_identity(mesh: Mesh) -> None:
    status, body = get(mesh.impostor_port, "GET", "/products/7")
    assert status == 502
    assert body == b"upstream 127.0.0.1:%d: connect-failure\n" % mesh.api_port
    why = f"peer presented identity {identity('api')}, expected {identity('db')}"
    wait_until(lambda: why in mesh.impostor.log.read_text(), what="the refusal in the proxy's log")


def test_the_mesh_listener_refuses_plaintext_and_foreign_certificates(mesh: Mesh, tmp_path: Path) -> None:
    with pytest.raises(OSError):  # plaintext HTTP to a TLS listener: the handshake fails, no answer
        get(mesh.api_port, "GET", "/products/7")
    stranger = issue_files(CertificateAuthority.generate(), tmp_path, "web")  # right name, wrong CA
    context = client_context(stranger)
    context.load_verify_locations(mesh.files["api"]["ca"])  # trusts the mesh, but the mesh does not trust it
    conn = http.client.HTTPSConnection("127.0.0.1", mesh.api_port, context=context, timeout=5)
    with pytest.raises((ssl.SSLError, ConnectionError, http.client.HTTPException)):
        conn.request("GET", "/products/7")
        conn.getresponse().read()
    conn.close()


def test_a_mesh_client_with_its_own_certificate_is_authorized_by_it(mesh: Mesh) -> None:
    for name, expected in (("web", 200), ("batch", 403)):
        conn = http.client.HTTPSConnection(
            "127.0.0.1", mesh.api_port, context=client_context(mesh.files[name]), timeout=5
        )
        conn.request("GET", "/products/1")
        assert conn.getresponse().status == expected
        conn.close()
