"""The mTLS read path (mesh/proxy/tls.py): C methods on the SSLObjects, decrypting into one shared buffer."""

from __future__ import annotations

import asyncio
import contextlib
import random
import ssl
import time

import pytest
import uvloop
from cryptography import x509

from mesh.identity import CertificateAuthority
from mesh.proxy.certs_helper import bundle_from_pem, key_and_csr
from mesh.proxy.tls import TLS_READ_BUFFER, MeshTls, MeshUpstreamConnection
from mesh.proxy.upstream_pool import EndpointPool, UpstreamResponse


@pytest.fixture(scope="module")
def pair() -> tuple[MeshTls, MeshTls]:
    """A server's and a client's contexts, certificates from one throw-away mesh CA."""
    ca = CertificateAuthority.generate()
    tls = []
    for name in ("server", "client"):
        key_pem, csr_pem = key_and_csr()
        uri = f"spiffe://cluster.local/ns/test/sa/{name}"
        leaf = ca.issue(x509.load_pem_x509_csr(csr_pem), uri, time.time())
        tls.append(MeshTls(bundle_from_pem(ca.chain_pem(leaf), key_pem)))
    return tls[0], tls[1]


def test_mesh_sslobjects_call_the_c_methods_and_keep_their_meaning(pair: tuple[MeshTls, MeshTls]) -> None:
    server, client = pair
    bios = [ssl.MemoryBIO() for _ in range(4)]
    accepting = server.server.wrap_bio(bios[0], bios[1], server_side=True)
    connecting = client.client.wrap_bio(bios[2], bios[3])
    for method in ("read", "write", "pending"):
        assert type(getattr(accepting, method)).__name__ == "builtin_function_or_method"
    for _ in range(4):  # a TLS 1.3 handshake over memory BIOs
        for side in (connecting, accepting):
            with contextlib.suppress(ssl.SSLWantReadError):
                side.do_handshake()
        bios[0].write(bios[3].read())
        bios[2].write(bios[1].read())
    assert connecting.getpeercert()["subjectAltName"] == (
        ("URI", "spiffe://cluster.local/ns/test/sa/server"),
    )
    assert connecting.write(b"hello") == 5
    bios[0].write(bios[3].read())
    into = bytearray(16)
    assert accepting.read(16, into) == 5 and into[:5] == b"hello"
    accepting.write(b"back")
    bios[2].write(bios[1].read())
    assert connecting.pending() == 0 and connecting.read(1024) == b"back"


def _body(seed: int, size: int) -> bytes:
    return random.Random(seed).randbytes(size)


class _Responder(asyncio.Protocol):
    """Answers `GET /SEED/SIZE/` (one request per read is enough here) with `_body(SEED, SIZE)`."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        seed, size = data.split(b"/")[1:3]
        body = _body(int(seed), int(size))
        self.transport.write(b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\n\r\n%s" % (len(body), body))  # type: ignore[attr-defined]


def test_concurrent_upstream_responses_read_through_the_shared_buffer_arrive_intact(
    pair: tuple[MeshTls, MeshTls],
) -> None:
    server, client = pair
    sizes = [12, 70_000, 300_000, 1_200_000]  # bigger than the buffer too: uvloop reads it in goes
    errors: list[str] = []  # e.g. "Error calling eof_received()" when the peer's close_notify arrives

    async def main() -> list[tuple[bytes, bytes]]:
        loop = asyncio.get_running_loop()
        loop.set_exception_handler(lambda _, context: errors.append(context["message"]))
        listener = await loop.create_server(_Responder, "127.0.0.1", 0, ssl=server.server)
        port = listener.sockets[0].getsockname()[1]
        pool = EndpointPool("mesh", "127.0.0.1", port, 5.0, 60.0)

        async def fetch(seed: int, size: int) -> tuple[bytes, bytes]:
            _, conn = await loop.create_connection(
                lambda: MeshUpstreamConnection(pool), "127.0.0.1", port, ssl=client.client
            )
            done = loop.create_future()
            response = UpstreamResponse(lambda: done.set_result(None), False, 1 << 30)
            conn.send(response, b"GET /%d/%d/ HTTP/1.1\r\nhost: mesh\r\n\r\n" % (seed, size))
            await asyncio.wait_for(done, 20)
            conn.close()
            assert response.complete and response.status == 200
            return b"".join(response.chunks), _body(seed, size)

        try:
            return await asyncio.gather(*(fetch(seed, size) for seed, size in enumerate(sizes * 3)))
        finally:
            listener.close()

    results = uvloop.run(main())
    assert [len(got) for got, _ in results] == sizes * 3
    assert all(got == expected for got, expected in results)
    assert errors == []
    assert len(TLS_READ_BUFFER) >= 16 * 1024  # one TLS record fits
