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

Per request, each proxy decrypts one TLS record and encrypts one. OpenSSL does that in ~2 µs when its code
and data are in cache; inside the proxy it runs mostly cold and costs several times that, which is where
most of the TLS cost per request goes (bench/proxy.py `mesh_chain`). The glue around it is kept small:
- uvloop decrypts into `TLS_READ_BUFFER`, one buffer per process, when the protocol has get_buffer and
  buffer_updated (`MeshClientConnection`, `MeshUpstreamConnection`); otherwise every read allocates and
  frees 256 KiB (`SSLObject.read(256 KiB)`). Sharing is safe: uvloop fills it and calls buffer_updated in
  one go, and httptools copies out everything it keeps before that returns.
- The mesh contexts make SSLObjects whose read, write and pending are the C methods (`_DirectSSLObject`):
  ssl.SSLObject wraps each in a Python function, a frame per call and several calls per request.
- For the reads that still allocate 256 KiB (handshakes, shutdown, protocols without get_buffer), glibc's
  mmap and trim thresholds are raised so those buffers come from, and go back to, the heap: otherwise each
  is mmap, mremap, munmap and page faults (+20 µs of CPU per request when every read did it).
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
from mesh.proxy.upstream_pool import UpstreamConnection

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

# uvloop asks for at most this much per read; shared by every TLS connection (see the module docstring).
TLS_READ_BUFFER = memoryview(bytearray(256 * 1024))


def keep_tls_reads_off_mmap() -> None:
    """Serve the 256 KiB TLS reads that still allocate from the heap (module docstring); glibc only."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None)
        libc.mallopt(_M_MMAP_THRESHOLD, 1 << 20)
        libc.mallopt(_M_TRIM_THRESHOLD, 4 << 20)


def _tmpfs() -> str | None:
    """Keys touch only memory-backed storage where there is some (ssl loads chains from files alone)."""
    shm = Path("/dev/shm")
    return str(shm) if shm.is_dir() and os.access(shm, os.W_OK) else None


class _DirectSSLObject(ssl.SSLObject):
    """An SSLObject whose hot methods are the C ones: uvloop looks each up once per connection."""

    # Same positional arguments as the wrappers they replace: read(len, buffer), write(data), pending().
    read = property(lambda self: self._sslobj.read)  # type: ignore[assignment]
    write = property(lambda self: self._sslobj.write)  # type: ignore[assignment]
    pending = property(lambda self: self._sslobj.pending)  # type: ignore[assignment]


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
            context.sslobject_class = _DirectSSLObject
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


class DecryptsIntoSharedBuffer:
    """For the TLS protocols: uvloop decrypts into the one shared read buffer instead of a new 256 KiB."""

    __slots__ = ()

    def get_buffer(self, sizehint: int) -> memoryview:
        return TLS_READ_BUFFER

    def buffer_updated(self, nbytes: int) -> None:
        self.data_received(TLS_READ_BUFFER[:nbytes])  # type: ignore[attr-defined]

    def eof_received(self) -> None:  # the peer's close_notify: uvloop closes the transport
        return None


class MeshClientConnection(DecryptsIntoSharedBuffer, ClientConnection):
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
        ClientConnection._serve(self, request)  # not super(): no proxy object per request

    def _deny(self, request: ClientRequest, reason: str) -> None:
        self.running = True
        service = self.listener.service_for(request.lowered.get(b"host"))
        if service is not None:
            source = self.peer or UNAUTHENTICATED
            self.proxy.metrics.denied_counter(service.config.namespace, service.name, source).value += 1
        self.respond_error(request, 403, reason)
        self.finished(request, None, "", None, 403, 0)


class MeshUpstreamConnection(DecryptsIntoSharedBuffer, UpstreamConnection):
    """A pooled connection to a mesh endpoint (EndpointPool opens these for `ssl=tls_context`)."""

    __slots__ = ()
