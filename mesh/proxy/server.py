"""The client side of the data plane: parse requests with httptools, route them, hand them to an Exchange.

Why Protocols and httptools rather than Streams or aiohttp: they are 2x and 6x faster respectively on this
path (mesh.md §4.1). A request without a body is dispatched when it has been read whole, one with a body
as soon as its head is in, so the body streams upstream as it arrives. Requests pipelined by a client
queue behind the one in flight; responses go back in order.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import deque
from typing import TYPE_CHECKING

import httptools

from mesh.proxy import http1
from mesh.proxy.bytebuild import join
from mesh.proxy.exchange import Exchange
from mesh.proxy.http1 import BUFFER_LIMIT, CRLF, REQUEST_DROP, add_header, drop_listed
from mesh.proxy.mirror import MirrorStats
from mesh.proxy.routing import RequestFacts
from mesh.proxy.services import BackendRuntime, Listener, ServiceRuntime
from mesh.proxy.upstream_pool import UpstreamConnection

if TYPE_CHECKING:
    from mesh.proxy.app import Proxy

_perf = time.perf_counter
_VIA_11 = b"\r\nvia: 1.1 sluice\r\n"  # ends the X-Forwarded-For line before it


class ClientRequest:
    """One request from a client: head, and a body that is buffered or streamed to an upstream."""

    # Attribute types are declared in server.pxd, for the compiled build (docs/proxy.md).

    def __init__(self, conn: ClientConnection) -> None:
        self.conn = conn
        self.method = "GET"
        self.method_raw = b"GET"
        self.version = "1.1"
        self.keep_alive = True
        self.chunked = False
        self.body_size = 0
        self.replayable = True
        self.complete = False
        self.sink: UpstreamConnection | None = None
        self.answered = False  # a response head has gone to the client
        self.url = b""
        self.lowered: dict[bytes, bytes] = {}
        self.lines: list[bytes] = []  # headers to send upstream, as pieces (http1.add_header)
        self.body: list[bytes] = []

    def feed(self, data: bytes) -> None:
        self.body_size += len(data)
        if self.body_size > BUFFER_LIMIT and self.replayable:
            self.replayable = False
        sink = self.sink
        if sink is not None:
            sink.transport.write(http1.chunk(data) if self.chunked else data)  # type: ignore[union-attr]
            if self.replayable:
                self.body.append(data)
            return
        self.body.append(data)
        if not self.replayable:
            self.conn.transport.pause_reading()  # nowhere to send it yet: stop reading until attached

    def finish(self) -> None:
        self.complete = True
        if self.sink is not None and self.chunked:
            self.sink.transport.write(http1.LAST_CHUNK)  # type: ignore[union-attr]

    def attach(self, upstream: UpstreamConnection, head: bytes) -> bytes:
        """Send head and whatever body has arrived; stream the rest as it comes."""
        body = self.body
        if not body:
            payload = head
        elif self.chunked:
            payload = b"".join((head, *map(http1.chunk, body)))
        else:
            payload = b"".join((head, *body))
        if self.complete and self.chunked:
            payload += http1.LAST_CHUNK
        upstream.source = None if self.complete else self.conn.transport
        if not self.replayable:
            body.clear()
            self.conn.transport.resume_reading()
        self.sink = None if self.complete else upstream
        return payload


class ClientConnection:
    """The asyncio protocol of one client connection (duck-typed: a compiled class cannot subclass one)."""

    def __init__(self, proxy: Proxy, listener: Listener) -> None:
        self.proxy = proxy
        self.listener = listener
        self.transport: asyncio.Transport = None  # type: ignore[assignment]
        self.parser = httptools.HttpRequestParser(self)
        # Bound once per connection: a method lookup less per request.
        self.parse = self.parser.feed_data
        self.parser_method = self.parser.get_method
        self.parser_keep_alive = self.parser.should_keep_alive
        self.request: ClientRequest | None = None  # the one being parsed
        self.queue: deque[ClientRequest] = deque()
        self.running = False
        self.exchange: Exchange | None = None
        self.closing = False
        self.half_closed = False  # the client shut its sending side; answer what it sent, then close
        self.client_ip = ""
        self.client_address = b""  # client_ip as bytes, for X-Forwarded-For
        self.streaming_from: UpstreamConnection | None = None

    # --- transport events -------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.send_out = transport.write  # type: ignore[attr-defined]  # bound once: a lookup less per write
        self.is_closing = transport.is_closing
        peer = transport.get_extra_info("peername")
        self.client_ip = peer[0] if peer else ""
        self.client_address = self.client_ip.encode()
        self.proxy.connections.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closing = True
        self.proxy.connections.discard(self)
        upstream = self.streaming_from
        if upstream is not None:
            upstream.close()

    def data_received(self, data: bytes) -> None:
        try:
            self.parse(data)
        except httptools.HttpParserUpgrade:
            self._refuse(501, "protocol upgrades are not supported")
        except httptools.HttpParserCallbackError as exc:  # a bug must cost one connection, never the proxy
            self.proxy.log_error(f"request handling failed: {exc.__cause__ or exc!r}")
            self._refuse(500, "internal error in the proxy")
        except httptools.HttpParserError as exc:
            self._refuse(400, f"malformed request: {exc}")

    def eof_received(self) -> bool:
        """The client shut its sending side (`nc -N`, some scripts): answer what it sent, then close."""
        if self.running or self.queue:
            self.half_closed = True
            return True  # keep our side open; finished() closes after the last answer
        return False  # nothing to answer: close now

    def pause_writing(self) -> None:
        if self.streaming_from is not None and self.streaming_from.transport is not None:
            self.streaming_from.transport.pause_reading()

    def resume_writing(self) -> None:
        if self.streaming_from is not None and self.streaming_from.transport is not None:
            self.streaming_from.transport.resume_reading()

    def _refuse(self, status: int, message: str) -> None:
        """Answer a request that cannot be parsed (unless its answer has begun) and close the connection."""
        request = self.request
        if not self.transport.is_closing() and (request is None or not request.answered):
            self.transport.write(http1.error_response(status, message, close=True))
        if request is not None:
            request.answered = True
        self.closing = True
        self.transport.close()
        if self.exchange is not None:
            self.exchange.drop(400)  # its request is broken (e.g. a bad chunk): stop forwarding it

    def write(self, data: bytes) -> None:
        """Write to the client unless it has gone (a late answer is dropped, not an error)."""
        if not self.is_closing():
            self.send_out(data)

    def close_after_answer(self) -> None:
        self.closing = True
        self.transport.close()

    def abort(self) -> None:
        self.closing = True
        self.transport.abort()

    # --- parser callbacks --------------------------------------------------------------------------

    def on_message_begin(self) -> None:
        self.request = ClientRequest(self)

    def on_url(self, url: bytes) -> None:
        self.request.url += url  # type: ignore[union-attr]

    def on_header(self, name: bytes, value: bytes) -> None:
        request = self.request
        lowered = name.lower()
        request.lowered[lowered] = value  # type: ignore[union-attr]
        if lowered not in REQUEST_DROP:
            add_header(request.lines, name, value)  # type: ignore[union-attr]

    def on_headers_complete(self) -> None:
        request = self.request
        parser = self.parser
        request.method_raw = self.parser_method()  # type: ignore[union-attr]
        request.method = request.method_raw.decode("ascii")  # type: ignore[union-attr]
        lowered = request.lowered  # type: ignore[union-attr]
        request.keep_alive = keep_alive = self.parser_keep_alive()  # type: ignore[union-attr]
        # Only HTTP/1.1 keeps a connection open without a Connection header: in that common case skip the
        # parser's version string (a str.format per request).
        keep_alive_by_default = keep_alive and b"connection" not in lowered
        request.version = "1.1" if keep_alive_by_default else parser.get_http_version()  # type: ignore[union-attr]
        if not keep_alive_by_default:
            request.lines = drop_listed(request.lines, lowered.get(b"connection"))  # type: ignore[union-attr]
        if b"transfer-encoding" in lowered:
            request.chunked = True  # type: ignore[union-attr]
        elif lowered.get(b"content-length", b"0") in (b"0", b""):
            return  # no body: dispatch once read whole, in on_message_complete
        if lowered.get(b"expect", b"").lower() == b"100-continue" and not self.running:
            self.transport.write(http1.CONTINUE_100)
        self._dispatch(request)  # type: ignore[arg-type]

    def on_body(self, body: bytes) -> None:
        self.request.feed(body)  # type: ignore[union-attr]

    def on_message_complete(self) -> None:
        request = self.request
        request.finish()  # type: ignore[union-attr]
        if not request.chunked and request.lowered.get(b"content-length", b"0") in (b"0", b""):  # type: ignore[union-attr]
            self._dispatch(request)  # type: ignore[arg-type]

    def _dispatch(self, request: ClientRequest) -> None:
        if self.running:
            self.queue.append(request)
        else:
            self._serve(request)

    # --- one request -------------------------------------------------------------------------------

    def _serve(self, request: ClientRequest) -> None:
        """Route `request` and start its exchange."""
        self.running = True
        started = _perf()
        listener = self.listener
        service = (
            listener.service_for(request.lowered.get(b"host")) if listener.by_host else listener.fallback
        )
        if service is None:
            self.respond_error(request, 404, "no service for this host")
            self.finished(request, None, "", None, 404, 0)
            return
        facts = RequestFacts(request.method, request.url, request.lowered) if service.table.routes else None
        route = service.table.select(facts)
        split = route.split
        set_cookie = b""
        if service.sticky_cookie is not None and split.is_canary:
            if facts is None:
                facts = RequestFacts(request.method, request.url, request.lowered)
            choice = facts.cookies.get(service.sticky_cookie)
            backend_name = split.pick(choice)
            if choice != backend_name:
                set_cookie = b"set-cookie: %s=%s%s\r\n" % (
                    service.sticky_cookie.encode(),
                    backend_name.encode(),
                    service.sticky_header,
                )
        else:
            backend_name = split.pick()
        exchange = self.exchange = Exchange(
            self, request, service, route.name, service.backends[backend_name], set_cookie, started
        )
        exchange.start()

    def finished(
        self,
        request: ClientRequest,
        service: ServiceRuntime | None,
        route: str,
        backend: BackendRuntime | None,
        status: int,
        attempts: int,
    ) -> None:
        """The answer is out (or the request dropped): mirror, log, and move on to the next request."""
        if service is not None and service.mirror is not None and service.mirror is not backend:
            self._maybe_mirror(request, service, route)
        access_log = self.proxy.access_log
        if access_log is not None:
            access_log.write(
                service=service.name if service else "",
                route=route,
                backend=backend.name if backend else "",
                method=request.method,
                path=request.url.decode("latin-1"),
                status=status,
                duration_ms=0.0 if self.exchange is None else (_perf() - self.exchange.started) * 1000.0,
                attempts=attempts,
                client=self.client_ip,
            )
        tracer = self.proxy.tracer
        if tracer is not None and service is not None and self.exchange is not None and tracer.sampled():
            tracer.record(request, self.exchange, service, route, backend, status, attempts, self.client_ip)
        self.exchange = None
        self.running = False
        if not self.closing and self.queue:
            self._serve(self.queue.popleft())
        elif self.half_closed and not self.closing:
            self.close_after_answer()

    def _maybe_mirror(self, request: ClientRequest, service: ServiceRuntime, route: str) -> None:
        if not (request.complete and request.replayable):
            return
        if service.mirror_percent < 100 and random.random() * 100 >= service.mirror_percent:
            return
        mirror: BackendRuntime = service.mirror  # type: ignore[assignment]
        mirror.mirrored.value += 1
        head = self.upstream_head(request, b"")
        cells = service.cells.get(route) or service.cells["default"]
        self.proxy.mirror.send(
            mirror.balancer,
            request.method,
            head,
            request.body,
            request.chunked,
            MirrorStats(cells[mirror.name], mirror.window),
        )

    def upstream_head(self, request: ClientRequest, trace: bytes) -> bytes:
        lowered = request.lowered
        pieces = [request.method_raw, b" ", request.url, b" HTTP/1.1\r\n", *request.lines]
        pieces.append(b"x-forwarded-for: ")
        forwarded_for = lowered.get(b"x-forwarded-for")
        if forwarded_for is not None:
            pieces.append(forwarded_for)
            pieces.append(b", ")
        pieces.append(self.client_address)
        version = request.version
        pieces.append(_VIA_11 if version == "1.1" else b"\r\nvia: %s sluice\r\n" % version.encode())
        pieces.append(trace)
        if request.chunked:
            pieces.append(http1.CHUNKED)
        elif b"content-length" in lowered:
            add_header(pieces, b"content-length", lowered[b"content-length"])
        pieces.append(CRLF)
        return join(pieces)

    def respond_error(self, request: ClientRequest, status: int, message: str) -> None:
        if request.answered:  # too late for a status: cut the connection so the client sees the failure
            self.abort()
            return
        request.answered = True
        close = not request.complete or not request.keep_alive or self.listener.draining
        self.write(http1.error_response(status, message, close=close))
        if close:
            self.close_after_answer()
