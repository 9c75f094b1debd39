"""The long-poll config API and the proxy's watch of it, in one event loop: versions move only on real
changes, a waiting poll returns as soon as they do, and a proxy keeps its config when the API is gone."""

from __future__ import annotations

import asyncio
import json
import time

from aiohttp import web

from mesh.control.server import ConfigServer
from mesh.control.translate import Snapshot
from mesh.proxy.app import Proxy
from mesh.proxy.config import ProxyConfig
from mesh.proxy.config_watch import ConfigWatch, http_request
from tests.harness.net import free_port
from tests.unit.mesh_control.objects import endpoint_slice, service, snapshot, split

LISTEN = free_port()


def objects(canary_weight: int, *extra) -> Snapshot:
    return snapshot(
        service("podinfo", 80, LISTEN),
        service("podinfo-primary", 80, "http"),
        service("podinfo-canary", 80, "http"),
        endpoint_slice("podinfo-primary", ["127.0.0.1"], 1),
        endpoint_slice("podinfo-canary", ["127.0.0.1"], 2),
        split("podinfo", {"podinfo-primary": 100 - canary_weight, "podinfo-canary": canary_weight}),
        *extra,
    )


class Api:
    """A ConfigServer over TCP on loopback, its snapshot replaced by the test."""

    def __init__(self) -> None:
        self.current = objects(0)
        self.server = ConfigServer(lambda: self.current)
        self.runner = web.AppRunner(self.server.app())
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", self.port).start()

    def change(self, snap: Snapshot) -> None:
        self.current = snap
        self.server.changed()

    async def get(self, version: int, wait: float, node: str = "shop/gw-1") -> tuple[int, dict]:
        path = f"/v1/config?node={node}&address=127.0.0.1&version={version}&wait={wait}"
        status, body = await http_request(self.url, path, wait + 5)
        return status, json.loads(body) if body else {}


def test_versions_move_only_when_the_node_config_changes_and_waiting_polls_wake_up():
    async def scenario() -> None:
        api = Api()
        await api.start()
        try:
            assert (await api.get(0, 0.1))[0] == 304  # nothing is served before every watch has listed
            api.server.mark_ready()
            status, first = await api.get(0, 5)
            assert status == 200 and first["namespace"] == "shop" and first["problems"] == []
            assert first["config"]["services"][0]["split"] == {"podinfo-primary": 100, "podinfo-canary": 0}
            version = first["version"]
            assert version >= int(time.time() * 1000) - 60_000  # counts on from the wall clock

            waiting = asyncio.create_task(api.get(version, 10))
            await asyncio.sleep(0.2)
            assert not waiting.done()
            started = time.monotonic()
            api.change(objects(20))
            status, second = await waiting
            assert status == 200 and second["version"] > version and time.monotonic() - started < 2
            assert second["config"]["services"][0]["split"] == {"podinfo-primary": 80, "podinfo-canary": 20}

            elsewhere = split("other", {"x": 1})
            elsewhere["metadata"]["namespace"] = "elsewhere"
            api.change(objects(20, elsewhere))  # another namespace's object: this node's config is the same
            assert (await api.get(second["version"], 0.5))[0] == 304
            assert (await api.get(0, 0))[0] == 200  # an older version is answered at once
            status, _ = await http_request(api.url, "/v1/config?version=0", 5)
            assert status == 400
        finally:
            await api.runner.cleanup()

    asyncio.run(scenario())


def test_a_proxy_applies_each_version_and_keeps_the_last_when_the_control_plane_is_gone():
    async def scenario() -> None:
        api = Api()
        await api.start()
        api.server.mark_ready()
        proxy = Proxy(ProxyConfig(), admin_port=None)
        await proxy.start()
        watch = ConfigWatch(proxy, api.url, "shop/gw-1", "127.0.0.1", wait=2, max_backoff=0.5)
        watch.start()
        try:
            await asyncio.wait_for(watch.synced.wait(), 10)
            assert [(s.name, s.port) for s in proxy.config.services] == [("podinfo", LISTEN)]
            api.change(objects(40))
            await _until(lambda: proxy.config.services[0].split.get("podinfo-canary") == 40)
            assert watch.status()["state"] == "synced" and watch.applied == 2
            last = proxy.config
            await api.runner.cleanup()  # the control plane goes away
            await _until(lambda: watch.state == "unreachable")
            assert proxy.config is last and ("127.0.0.1", LISTEN) in proxy.servers
            assert watch.status()["last_error"].startswith(("ConnectionResetError", "ConnectionRefusedError"))
        finally:
            await proxy.stop()

    asyncio.run(scenario())


def test_a_config_that_does_not_apply_is_refused_and_the_old_one_kept():
    async def scenario() -> None:
        api = Api()
        await api.start()
        api.server.mark_ready()
        proxy = Proxy(ProxyConfig(), admin_port=None)
        await proxy.start()
        watch = ConfigWatch(proxy, api.url, "shop/gw-1", "198.51.100.7", wait=2)  # an address not ours
        watch.start()
        try:
            await _until(lambda: watch.rejected != "")
            assert "cannot listen on 198.51.100.7" in watch.rejected and proxy.config.services == []
            assert watch.version > 0 and watch.state == "synced"
        finally:
            await proxy.stop()
            await api.runner.cleanup()

    asyncio.run(scenario())


async def _until(condition, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.02)


class OneServiceAccount:
    """A TokenReviewer that knows one token."""

    def review(self, token: str) -> tuple[str, str]:
        from mesh.identity import IssuanceRefused

        if token != "api-token":
            raise IssuanceRefused(401, "the token was refused by the apiserver")
        return "shop", "api"


def test_with_an_issuer_the_control_plane_also_issues_proxy_certificates():
    from cryptography import x509

    from mesh import spiffe
    from mesh.identity import CertificateAuthority, Issuer, identity_of
    from mesh.proxy.certs_helper import key_and_csr

    async def scenario() -> None:
        api = Api()
        api.server.issuer = Issuer(CertificateAuthority.generate(), OneServiceAccount())
        api.runner = web.AppRunner(api.server.app())
        await api.start()
        try:
            _, csr = key_and_csr()
            status, body = await _post(api.url, csr, "Bearer api-token")
            assert status == 200
            leaf = x509.load_pem_x509_certificates(body)[0]
            assert identity_of(leaf) == spiffe.Identity(spiffe.DEFAULT_TRUST_DOMAIN, "shop", "api").uri
            status, body = await _post(api.url, csr, "Bearer stolen")
            assert status == 401 and b"refused" in body
        finally:
            await api.runner.cleanup()

    asyncio.run(scenario())


async def _post(url: str, body: bytes, authorization: str) -> tuple[int, bytes]:
    reader, writer = await asyncio.open_connection("127.0.0.1", int(url.rsplit(":", 1)[1]))
    writer.write(
        f"POST /v1/certificates HTTP/1.1\r\nhost: x\r\nauthorization: {authorization}\r\n"
        f"content-type: application/x-pem-file\r\ncontent-length: {len(body)}\r\n"
        "connection: close\r\n\r\n".encode()
        + body
    )
    answer = await reader.read()
    writer.close()
    head, _, payload = answer.partition(b"\r\n\r\n")
    return int(head.split()[1]), payload
