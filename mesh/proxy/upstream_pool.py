"""Pooled keep-alive connections to one upstream endpoint, with circuit-breaking limits.

Opening a TCP connection per request would cost more than the whole proxy budget (mesh.md §4.2), so each
endpoint keeps a LIFO list of idle connections (hot sockets are reused, cold ones age out), caps open
connections and queued requests (overflow is an immediate 503, as in Envoy), and carries the outlier
state the balancer reads. One request at a time per connection: no pipelining.
"""

from __future__ import annotations

import asyncio
import ssl
import sys
import time
from collections import deque
from collections.abc import Callable

import httptools

from mesh.proxy.bytebuild import hop_kind
from mesh.proxy.http1 import CONNECTION, CONTENT_LENGTH, END_TO_END, add_header


class UpstreamError(Exception):
    """An attempt failed before a complete response; `kind` is a retry-on condition."""

    def __init__(self, kind: str, detail: str) -> None:
        super().__init__(f"{kind}: {detail}")
        self.kind = kind  # connect-failure | reset | overflow | protocol | timeout


class UpstreamResponse:
    """What one attempt received; buffered until complete or `buffer_limit`, then streamed to a sink."""

    # Callbacks rather than a future: the common request never needs a task (mesh.md §4.2 budget).
    # Attribute types are declared in upstream_pool.pxd, for the compiled build (docs/proxy.md).

    def __init__(self, notify: Callable[[], None], head_only: bool, buffer_limit: int) -> None:
        self.status = 0
        self.size = 0
        self.keep_alive = True
        self.complete = False
        self.error: UpstreamError | None = None
        self.sink: Callable[[bytes], None] | None = None
        self.length: bytes | None = None  # Content-Length, kept apart from the forwarded lines
        self.connection: bytes | None = None
        # Called once when the response is complete, too big to hold, or failed; re-armed to stream.
        self.notify: Callable[[], None] | None = notify
        self.head_only = head_only
        self.buffer_limit = buffer_limit
        self.lines: list[bytes] = []  # end-to-end headers as pieces (http1.add_header), filtered as parsed
        self.chunks: list[bytes] = []

    def wake(self) -> None:
        notify = self.notify
        if notify is not None:
            self.notify = None
            notify()

    def on_error(self, error: UpstreamError) -> None:
        if not self.complete:
            self.error = error
            self.wake()


class UpstreamConnection:
    """The asyncio protocol of one upstream connection (duck-typed: a compiled class cannot subclass one)."""

    def __init__(self, pool: EndpointPool) -> None:
        self.pool = pool
        self.transport: asyncio.Transport | None = None
        self._new_parser()
        self.send_out = None  # transport.write, once connected
        self.response: UpstreamResponse | None = None
        self.closed = False
        self.reused = False
        self.reset_parser = False
        self.idle_since = 0.0
        # The client transport whose request body we upload; paused when this socket's buffer fills.
        self.source: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.send_out = transport.write  # type: ignore[attr-defined]  # bound once: a lookup less per request

    def _new_parser(self) -> None:
        self.parser = httptools.HttpResponseParser(self)
        # Bound once per parser: a method lookup less per response.
        self.parse = self.parser.feed_data
        self.status_code = self.parser.get_status_code
        self.parser_keep_alive = self.parser.should_keep_alive

    def send(self, response: UpstreamResponse, data: bytes) -> None:
        if self.reset_parser:
            self._new_parser()
            self.reset_parser = False
        self.response = response
        self.send_out(data)

    def data_received(self, data: bytes) -> None:
        if self.response is None:
            self.close()  # nothing asked for: the connection is out of step, drop it
            return
        try:
            self.parse(data)
        except httptools.HttpParserCallbackError as exc:  # a bug on our side, not the upstream's
            print(
                f"sluice-proxy: response handling failed: {exc.__cause__ or exc!r}",
                file=sys.stderr,
                flush=True,
            )
            self._fail(UpstreamError("protocol", f"response handling failed: {exc}"))
            self.close()
        except httptools.HttpParserError as exc:
            self._fail(UpstreamError("protocol", f"bad response from {self.pool.name}: {exc}"))
            self.close()

    def on_header(self, name: bytes, value: bytes) -> None:
        kind = hop_kind(name)
        if kind == END_TO_END:
            add_header(self.response.lines, name, value)  # type: ignore[union-attr]
        elif kind == CONTENT_LENGTH:
            self.response.length = value  # type: ignore[union-attr]
        elif kind == CONNECTION:
            self.response.connection = value  # type: ignore[union-attr]

    def on_headers_complete(self) -> None:
        response = self.response
        response.status = self.status_code()
        response.keep_alive = self.parser_keep_alive()
        if response.head_only and response.status >= 200:  # type: ignore[union-attr]
            # llhttp cannot be told a response answers HEAD; finish here and use a fresh parser next time.
            self.reset_parser = True
            self.on_message_complete()

    def on_body(self, data: bytes) -> None:
        response = self.response
        if response is None:
            return
        if response.sink is not None:
            response.sink(data)
            return
        response.chunks.append(data)
        response.size += len(data)
        if response.size > response.buffer_limit:
            response.wake()  # too big to hold: the client side starts streaming

    def on_message_complete(self) -> None:
        response = self.response
        if response is None:
            return
        if response.status < 200:  # 1xx interim response: the real one follows
            response.lines.clear()
            response.length = response.connection = None
            return
        self.response = None
        response.complete = True
        response.wake()

    def _fail(self, error: UpstreamError) -> None:
        response = self.response
        self.response = None
        if response is not None:
            response.on_error(error)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._fail(UpstreamError("reset", f"{self.pool.name} closed the connection mid-response"))
        self.pool.forget(self)
        if self.source is not None:
            self.source.resume_reading()
            self.source = None

    def eof_received(self) -> None:
        """The peer shut its sending side: close (as asyncio.Protocol would; this class is duck-typed)."""
        return None

    def pause_writing(self) -> None:
        if self.source is not None:
            self.source.pause_reading()

    def resume_writing(self) -> None:
        if self.source is not None:
            self.source.resume_reading()

    def close(self) -> None:
        if not self.closed and self.transport is not None:
            self.closed = True
            self.transport.close()


class EndpointPool:
    """Connections to one `host:port`, shared by every service and route that sends there."""

    def __init__(
        self,
        name: str,
        host: str,
        port: int,
        connect_timeout: float,
        idle_timeout: float,
        max_connections: int = 1024,
        max_pending: int = 1024,
    ) -> None:
        self.name = name
        self.host = host
        self.port = port
        self.connect_timeout = connect_timeout
        self.idle_timeout = idle_timeout
        self.max_connections = max_connections
        self.max_pending = max_pending
        self.idle: list[UpstreamConnection] = []
        self.connections = 0  # open or opening
        self.active = 0  # requests in flight: what least-request balancing compares
        self.waiters: deque[asyncio.Future[UpstreamConnection | None]] = deque()
        self.retired = False
        # Outlier ejection state, kept by resilience.OutlierDetector.
        self.consecutive_failures = 0
        self.ejected_until = 0.0
        self.times_ejected = 0
        # Mesh endpoints: connect with the proxy's mTLS context, require this peer identity (tls.py).
        self.tls_context: ssl.SSLContext | None = None
        self.identity: str | None = None

    def take_idle(self) -> UpstreamConnection | None:
        """The most recently used idle connection, without a coroutine: the common case."""
        idle = self.idle
        while idle:
            conn = idle.pop()
            if not conn.closed:
                conn.reused = True
                return conn
        return None

    async def acquire(self) -> UpstreamConnection:
        conn = self.take_idle()
        if conn is not None:
            return conn
        if self.connections < self.max_connections:
            return await self._connect()
        if len(self.waiters) >= self.max_pending:
            raise UpstreamError(
                "overflow",
                f"{self.name}: {self.connections} connections and "
                f"{len(self.waiters)} pending requests, the circuit breaker's limit",
            )
        waiter: asyncio.Future[UpstreamConnection | None] = asyncio.get_running_loop().create_future()
        self.waiters.append(waiter)
        conn = await waiter
        if conn is None:  # a connection closed: open our own
            return await self._connect()
        conn.reused = True
        return conn

    async def _connect(self) -> UpstreamConnection:
        self.connections += 1
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(self.connect_timeout):
                protocol = UpstreamConnection
                if self.tls_context is not None:  # decrypts into a shared buffer (tls.py)
                    from mesh.proxy.tls import MeshUpstreamConnection as protocol
                _, conn = await loop.create_connection(
                    lambda: protocol(self), self.host, self.port, ssl=self.tls_context
                )
        except BaseException as exc:
            self.connections -= 1
            self._wake_one(None)
            if isinstance(exc, OSError | TimeoutError):
                raise UpstreamError("connect-failure", f"{self.name}: {exc or 'connect timed out'}") from None
            raise
        if self.identity is not None:
            self._verify_peer(conn)  # type: ignore[arg-type]
        return conn  # type: ignore[return-value]

    def _verify_peer(self, conn: UpstreamConnection) -> None:
        from mesh.proxy.tls import verify_peer  # tls.py builds on the server side, which imports this module

        mismatch = verify_peer(conn.transport, self.identity)  # type: ignore[arg-type]
        if mismatch is not None:
            conn.close()  # its connection_lost gives the slot back
            print(f"sluice-proxy: refused upstream {self.name}: {mismatch}", file=sys.stderr, flush=True)
            raise UpstreamError("connect-failure", f"{self.name}: {mismatch}")

    def release(self, conn: UpstreamConnection, reusable: bool) -> None:
        conn.source = None
        if not reusable or conn.closed or self.retired:
            conn.close()
            return
        if self._wake_one(conn):
            return
        conn.idle_since = time.monotonic()
        self.idle.append(conn)

    def _wake_one(self, conn: UpstreamConnection | None) -> bool:
        while self.waiters:
            waiter = self.waiters.popleft()
            if not waiter.done():
                waiter.set_result(conn)
                return True
        return False

    def forget(self, conn: UpstreamConnection) -> None:
        """Called when a connection closes, whoever closed it."""
        self.connections -= 1
        if conn in self.idle:
            self.idle.remove(conn)
        self._wake_one(None)

    def sweep(self, now: float) -> None:
        """Close connections idle for longer than the idle timeout (oldest are at the front)."""
        while self.idle and now - self.idle[0].idle_since > self.idle_timeout:
            self.idle.pop(0).close()

    def retire(self) -> None:
        """The endpoint left the config: close idle connections now, busy ones when their request ends."""
        self.retired = True
        while self.idle:
            self.idle.pop().close()
