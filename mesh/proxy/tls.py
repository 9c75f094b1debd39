"""Proxy-to-proxy mTLS: the proxy's SSL contexts, peers' identities, and the inbound mesh connection.

Two contexts per proxy, one identity: the server side of mesh listeners demands a client certificate from the
mesh CA; the client side presents the same certificate to mesh endpoints and checks the peer's SPIFFE URI
itself (`check_hostname` knows DNS names and IPs, not URI SANs), once per connection, in the pool.

Rotation without dropping anything: `MeshTls.load` loads the renewed chain into the same two contexts.
OpenSSL copies the certificate into each connection when its handshake starts, so established connections
(and pooled upstream ones) keep theirs and every new handshake presents the new one; listeners need not
be reopened. Trust anchors are added, never removed, so peers still holding a certificate from a replaced
root keep working until the process restarts.

Plain listeners and upstreams are untouched: mesh listeners get `MeshClientConnection`, which identifies the
peer once per connection and asks the Authorizer once per request before the usual routing.

One allocator setting matters for speed: uvloop reads TLS data with `SSLObject.read(256 KiB)`, so every
read allocates 256 KiB, which glibc serves from fresh mmap()ed pages (mmap, mremap, munmap and page faults
per request: measured +20 µs of CPU per request on the server side). `MeshTls` raises glibc's mmap and
trim thresholds so those buffers come from, and go back to, the heap.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import ssl
import tempfile
from dataclasses import dataclass
from pathlib import Path

from mesh.proxy.server import ClientConnection, ClientRequest

UNAUTHENTICATED = "unauthenticated"


@dataclass(frozen=True)
class Bundle:
    """A certificate for this proxy: chain (leaf first), its key, the trust anchors, and what it says."""

    chain_pem: bytes
    key_pem: bytes
    trust_pem: bytes
    identity: str  # SPIFFE URI of the leaf
    not_before: float  # epoch seconds
    not_after: float


_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # mallopt(3) parameters (glibc)


def keep_tls_reads_off_mmap() -> None:
    """Serve uvloop's 256 KiB TLS read buffers from the heap (see the module docstring); glibc only."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None)
        libc.mallopt(_M_MMAP_THRESHOLD, 1 << 20)
        libc.mallopt(_M_TRIM_THRESHOLD, 4 << 20)


def _tmpfs() -> str | None:
    """Keys touch only memory-backed storage where there is some (ssl loads chains from files alone)."""
    shm = Path("/dev/shm")
    return str(shm) if shm.is_dir() and os.access(shm, os.W_OK) else None


class MeshTls:
    """The server and client contexts of one proxy identity, reloaded in place on renewal."""

    def __init__(self, bundle: Bundle) -> None:
        keep_tls_reads_off_mmap()
        self.server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.server.verify_mode = ssl.CERT_REQUIRED
        self.client = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        self.client.check_hostname = False  # the peer's SPIFFE URI is checked by `verify_peer`
        self.client.verify_mode = ssl.CERT_REQUIRED
        for context in (self.server, self.client):
            context.minimum_version = ssl.TLSVersion.TLSv1_2
        self.bundle = bundle
        self.load(bundle)

    @property
    def identity(self) -> str:
        return self.bundle.identity

    def load(self, bundle: Bundle) -> None:
        """Present `bundle` from the next handshake on; ssl.SSLError (the old one stays) if it is bad."""
        with tempfile.TemporaryDirectory(prefix="sluice-tls-", dir=_tmpfs()) as tmp:
            chain, key = Path(tmp, "chain.pem"), Path(tmp, "key.pem")
            key.touch(0o600)
            key.write_bytes(bundle.key_pem)
            chain.write_bytes(bundle.chain_pem)
            check = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            check.load_cert_chain(chain, key)  # a bad pair fails here, before the live contexts change
            for context in (self.server, self.client):
                context.load_verify_locations(cadata=bundle.trust_pem.decode("ascii"))
                context.load_cert_chain(chain, key)
        self.bundle = bundle


def peer_identity(transport: asyncio.BaseTransport) -> str | None:
    """The SPIFFE URI in the verified certificate of the other end of a TLS transport."""
    cert = transport.get_extra_info("peercert")
    if not cert:
        return None
    for kind, value in cert.get("subjectAltName", ()):
        if kind == "URI" and value.startswith("spiffe://"):
            return value
    return None


def verify_peer(transport: asyncio.BaseTransport, expected: str) -> str | None:
    """None if the peer is `expected`; otherwise why not (the caller closes the connection)."""
    found = peer_identity(transport)
    if found == expected:
        return None
    return f"peer presented identity {found or 'none'}, expected {expected}"


class MeshClientConnection(ClientConnection):
    """A connection on an mTLS listener: the peer's identity is known and TrafficTargets apply."""

    __slots__ = ("peer",)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self.peer = peer_identity(transport)

    def _serve(self, request: ClientRequest) -> None:
        authorizer = self.proxy.authorizer
        if authorizer is not None:
            reason = authorizer.denies(self.peer, request.method, request.url, request.lowered)
            if reason is not None:
                self._deny(request, reason)
                return
        super()._serve(request)

    def _deny(self, request: ClientRequest, reason: str) -> None:
        self.running = True
        service = self.listener.service_for(request.lowered.get(b"host"))
        if service is not None:
            source = self.peer or UNAUTHENTICATED
            self.proxy.metrics.denied_counter(service.config.namespace, service.name, source).value += 1
        self.respond_error(request, 403, reason)
        self.finished(request, None, "", None, 403, 0)
