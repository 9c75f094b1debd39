"""Certificate rotation under steady load loses no request (real apiserver, issuer and proxy processes).

Certificates live 6 s here, so both proxies renew every ~4 s while four clients keep requests flowing
through web proxy -> mTLS -> api proxy -> app. Meanwhile the web proxy's endpoint is moved between the
api proxy's two mTLS listeners every half second, so new handshakes (with whatever certificates are
current) happen throughout, next to long-lived pooled connections that keep their old session.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from mesh.identity import ISSUE_PATH
from mesh.proxy.certs import HelperSource
from mesh.proxy.config import Tls
from tests.harness.net import free_port, wait_for_port
from tests.harness.poll import wait_until
from tests.harness.processes import python_module, start, stop
from tests.integration.mesh.mtls_rig import (
    Load,
    client_context,
    identity,
    outbound,
    served_certificate,
    start_proxy,
    start_upstream,
)

LIFETIME = "6s"


@pytest.fixture
def procs() -> Iterator[list[subprocess.Popen]]:
    started: list[subprocess.Popen] = []
    yield started
    for proc in reversed(started):
        stop(proc)


def test_rotation_under_load_loses_no_request(
    k8s_kubeconfig: Path,
    k8s_namespace: str,
    k8s_sa_token: Callable[..., str],
    tmp_path: Path,
    procs: list[subprocess.Popen],
) -> None:
    ns = k8s_namespace
    issuer_port = free_port()
    args = ["--kubeconfig", str(k8s_kubeconfig), "--namespace", ns, "--port", str(issuer_port)]
    procs.append(
        start(python_module("mesh.identity", *args, "--lifetime", LIFETIME), tmp_path / "issuer.log")
    )
    wait_for_port(issuer_port, timeout=30)
    url = f"http://127.0.0.1:{issuer_port}{ISSUE_PATH}"

    def tls_for(name: str) -> dict[str, Any]:
        path = tmp_path / f"{name}.token"
        path.write_text(k8s_sa_token(name))
        return {"issuer": {"url": url, "token_file": str(path)}}

    app, app_port = start_upstream(tmp_path, "app")
    procs.append(app)
    listeners = [free_port(), free_port()]
    api = start_proxy(
        tmp_path,
        "api",
        {
            "tls": tls_for("api"),
            "services": [
                {
                    "name": f"api-{i}",
                    "namespace": ns,
                    "port": port,
                    "tls": True,
                    "backends": {"app": {"endpoints": [f"127.0.0.1:{app_port}"]}},
                    "split": {"app": 100},
                }
                for i, port in enumerate(listeners)
            ],
            "traffic_targets": [
                {
                    "name": "api",
                    "namespace": ns,
                    "destination": {"name": "api", "namespace": ns},
                    "sources": [{"name": "web", "namespace": ns}],
                }
            ],
        },
    )
    procs.append(api.proc)
    web_port = free_port()
    web_config = outbound("api", web_port, listeners[0], identity("api", ns), tls_for("web"))
    web = start_proxy(tmp_path, "web", web_config)
    procs.append(web.proc)

    probe = HelperSource(Tls.model_validate(tls_for("probe"))).fetch()
    probe_files = {}
    for kind, data in (("cert", probe.chain_pem), ("key", probe.key_pem), ("ca", probe.trust_pem)):
        (tmp_path / f"probe.{kind}").write_bytes(data)
        probe_files[kind] = str(tmp_path / f"probe.{kind}")
    first_served = served_certificate(listeners[0], client_context(probe_files)).serial_number
    moves = 0

    def rotated_twice_while_moving() -> bool:
        nonlocal moves
        moves += 1
        endpoint = f"127.0.0.1:{listeners[moves % 2]}"
        web_config["services"][0]["backends"]["api"]["endpoints"] = [endpoint]
        web.admin.put_config(web_config)
        renewed = [p.metric("sluice_proxy_certificate_renewals_total") for p in (api, web)]
        return min(renewed) >= 2 and moves >= 10

    with Load(web_port, threads=4) as load:
        wait_until(lambda: load.total > 0, timeout=10, what="the first requests")
        wait_until(rotated_twice_while_moving, timeout=60, interval=0.5, what="two renewals on both proxies")
    assert load.errors == []
    assert set(load.statuses) == {200}, load.statuses
    assert load.statuses[200] > 200
    assert served_certificate(listeners[0], client_context(probe_files)).serial_number != first_served
    assert api.metric("sluice_proxy_denied_requests_total") == 0
