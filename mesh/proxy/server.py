"""The client side of the data plane: parse requests with httptools, route them, forward, answer.

Why Protocols and httptools rather than Streams or aiohttp: they are 2x and 6x faster respectively on this
path (mesh.md §4.1). Parsing happens in callbacks; each request then runs as one coroutine that picks a
route and backend, applies faults, tries endpoints under the route's timeout and retry policy, and
writes the response with one `transport.write` when it fits in the response buffer (64 KiB), or streams it
with back-pressure when it does not. A response is committed to the client only once complete or too big
to hold, which is what lets a 5xx be retried and an upstream dying mid-response become a clean 502.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import deque
from typing import TYPE_CHECKING

import httptools

from mesh.proxy import http1
from mesh.proxy.resilience import RoutePolicy, status_failure
from mesh.proxy.routing import RequestFacts
from mesh.proxy.services import BackendRuntime, Listener, ServiceRuntime
from mesh.proxy.tracing import trace_headers
from mesh.proxy.upstream_pool import EndpointPool, UpstreamConnection, UpstreamError, UpstreamResponse

if TYPE_CHECKING:
    from mesh.proxy.app import Proxy

# Request bodies up to this size are kept for retries and mirroring; responses up to it are held whole.
BUFFER_LIMIT = 64 * 1024

_FAILURE_STATUS = {"connect-failure": 502, "reset": 502, "protocol": 502, "overflow": 503, "timeout": 504}
_perf = time.perf_counter


class ClientRequest:
    """One request from a client: head, and a body that is buffered or streamed to an upstream."""

    __slots__ = (
        "answered",
        "body",
        "body_size",
        "chunked",
        "complete",
        "conn",
        "headers",
        "keep_alive",
        "lines",
        "lowered",
        "method",
        "replayable",
        "sink",
        "url",
        "version",
    )

    def __init__(self, conn: ClientConnection) -> None:
        self.conn = conn
        self.url = b""
        self.headers: list[tuple[bytes, bytes]] = []
        self.lowered: dict[bytes, bytes] = {}
        self.lines: list[bytes] = []  # header lines to send upstream
        self.method = "GET"
        self.version = "1.1"
        self.keep_alive = True
        self.chunked = False
        self.body: list[bytes] = []
        self.body_size = 0
        self.replayable = True
        self.complete = False
        self.sink: UpstreamConnection | None = None
        self.answered = False  # a response head has gone to the client

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


class ClientConnection(asyncio.Protocol):
    __slots__ = (
        "client_ip",
        "closing",
        "current",
        "downstream_paused",
        "expired",
        "listener",
        "parser",
        "proxy",
        "queue",
        "request",
        "running",
        "streaming_from",
        "task",
        "transport",
    )

    def __init__(self, proxy: Proxy, listener: Listener) -> None:
        self.proxy = proxy
        self.listener = listener
        self.transport: asyncio.Transport = None  # type: ignore[assignment]
        self.parser = httptools.HttpRequestParser(self)
        self.request: ClientRequest | None = None
        self.queue: deque[ClientRequest] = deque()
        self.running = False
        self.closing = False
        self.client_ip = ""
        self.streaming_from: UpstreamConnection | None = None
        self.task: asyncio.Task[None] | None = None
        self.current: UpstreamResponse | None = None  # what the request in hand waits for
        self.expired = False

    # --- transport events -------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        peer = transport.get_extra_info("peername")
        self.client_ip = peer[0] if peer else ""
        self.proxy.connections.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closing = True
        self.proxy.connections.discard(self)
        upstream = self.streaming_from
        if upstream is not None:
            upstream.close()

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._refuse(501, "protocol upgrades are not supported")
        except httptools.HttpParserError as exc:
            self._refuse(400, f"malformed request: {exc}")

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
        if self.task is not None:
            self.task.cancel()  # its request is broken (e.g. a bad chunk): stop forwarding it

    # --- parser callbacks --------------------------------------------------------------------------

    def on_message_begin(self) -> None:
        self.request = ClientRequest(self)

    def on_url(self, url: bytes) -> None:
        self.request.url += url  # type: ignore[union-attr]

    def on_header(self, name: bytes, value: bytes) -> None:
        self.request.headers.append((name, value))  # type: ignore[union-attr]

    def on_headers_complete(self) -> None:
        request = self.request
        parser = self.parser
        request.method = parser.get_method().decode("ascii")  # type: ignore[union-attr]
        request.version = parser.get_http_version()  # type: ignore[union-attr]
        request.keep_alive = parser.should_keep_alive()  # type: ignore[union-attr]
        request.lines, lowered = http1.request_lines(request.headers)  # type: ignore[union-attr]
        request.lowered = lowered  # type: ignore[union-attr]
        if b"transfer-encoding" in lowered:
            request.chunked = True  # type: ignore[union-attr]
        if lowered.get(b"expect", b"").lower() == b"100-continue" and not self.running:
            self.transport.write(http1.CONTINUE_100)
        if self.running:
            self.queue.append(request)  # type: ignore[arg-type]
        else:
            self._start(request)  # type: ignore[arg-type]

    def on_body(self, body: bytes) -> None:
        self.request.feed(body)  # type: ignore[union-attr]

    def on_message_complete(self) -> None:
        self.request.finish()  # type: ignore[union-attr]

    def _start(self, request: ClientRequest) -> None:
        self.running = True
        self.task = self.proxy.loop.create_task(self._serve(request))

    # --- one request -------------------------------------------------------------------------------

    async def _serve(self, request: ClientRequest) -> None:
        started = _perf()
        service = self.listener.service_for(request.lowered.get(b"host"))
        if service is None:
            self._respond_error(request, 404, "no service for this host")
            self._log(request, None, "", "", 404, started, 0)
            self._next()
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
        route_name = route.name
        backend = service.backends[backend_name]
        policy = service.policies[route_name]
        service.in_flight.value += 1
        # A timer rather than asyncio.timeout(): a third of the cost, and it fails the attempt in hand
        # instead of cancelling the task, so the 504 is written where every other answer is.
        deadline = self.proxy.loop.call_later(policy.timeout, self._expire) if policy.timeout else None
        self.expired = False
        try:
            status, attempts = await self._exchange(request, service, backend, policy, set_cookie)
        except asyncio.CancelledError:
            attempts = 0
            if self.expired:  # timed out while waiting for a connection or a fault delay
                self.task.uncancel()  # type: ignore[union-attr]
                status = 504
                self._respond_error(request, 504, f"no answer within {policy.timeout}s")
            else:
                status = 400  # the rest of the request could not be parsed; _refuse answered
        except Exception as exc:  # a bug must cost one request, never the proxy
            self.proxy.log_error(f"request failed: {exc!r}")
            status, attempts = 500, 0
            self.transport.abort()
        finally:
            service.in_flight.value -= 1
            if deadline is not None:
                deadline.cancel()
        now = _perf()
        seconds = now - started
        service.cells[route_name][backend_name].observe(status, seconds)
        if attempts > 1:
            service.cells[route_name][backend_name].retries += attempts - 1
        backend.window.record(int(now), seconds * 1000.0, status >= 500)
        if service.mirror is not None and service.mirror is not backend:
            self._maybe_mirror(request, service)
        if self.proxy.access_log is not None:
            self._log(request, service, route_name, backend_name, status, started, attempts)
        self._next()

    def _log(
        self,
        request: ClientRequest,
        service: ServiceRuntime | None,
        route: str,
        backend: str,
        status: int,
        started: float,
        attempts: int,
    ) -> None:
        if self.proxy.access_log is None:
            return
        self.proxy.access_log.write(
            service=service.name if service else "",
            route=route,
            backend=backend,
            method=request.method,
            path=request.url.decode("latin-1"),
            status=status,
            duration_ms=(_perf() - started) * 1000.0,
            attempts=attempts,
            client=self.client_ip,
        )

    def _next(self) -> None:
        self.running = False
        self.task = None
        if self.closing:
            return
        if self.queue:
            self._start(self.queue.popleft())

    def _expire(self) -> None:
        self.expired = True
        current = self.current
        if current is not None:
            current.on_error(UpstreamError("timeout", "the route's timeout passed"))
        elif self.task is not None:
            self.task.cancel()  # waiting for a connection or a fault delay

    def _maybe_mirror(self, request: ClientRequest, service: ServiceRuntime) -> None:
        if not (request.complete and request.replayable):
            return
        if service.mirror_percent < 100 and random.random() * 100 >= service.mirror_percent:
            return
        mirror = service.mirror
        mirror.mirrored.value += 1  # type: ignore[union-attr]
        head = self._upstream_head(request, b"")
        self.proxy.mirror.send(
            mirror.balancer,  # type: ignore[union-attr]
            request.method,
            head,
            request.body,
            request.chunked,
        )

    def _upstream_head(self, request: ClientRequest, trace: bytes) -> bytes:
        lowered = request.lowered
        client_ip = self.client_ip.encode()
        forwarded_for = lowered.get(b"x-forwarded-for")
        if forwarded_for is not None:
            client_ip = b"%s, %s" % (forwarded_for, client_ip)
        if request.chunked:
            framing = http1.CHUNKED
        elif b"content-length" in lowered:
            framing = b"content-length: %s\r\n" % lowered[b"content-length"]
        else:
            framing = b""
        return b"%s %s HTTP/1.1\r\n%sx-forwarded-for: %s\r\nvia: %s sluice\r\n%s%s\r\n" % (
            request.method.encode(),
            request.url,
            b"".join(request.lines),
            client_ip,
            request.version.encode(),
            trace,
            framing,
        )

    async def _exchange(
        self,
        request: ClientRequest,
        service: ServiceRuntime,
        backend: BackendRuntime,
        policy: RoutePolicy,
        set_cookie: bytes,
    ) -> tuple[int, int]:
        """Answer `request` from `backend` under the route's policy; return (status sent, attempts)."""
        if policy.abort_percent:
            aborted = policy.draw_abort()
            if aborted is not None:
                self._respond_error(request, aborted, "fault injected")
                return aborted, 0
        if policy.delay_percent:
            delay = policy.draw_delay()
            if delay:
                await asyncio.sleep(delay)  # the fault itself, not synchronisation
        head = self._upstream_head(request, trace_headers(request.lowered))
        loop = self.proxy.loop
        outlier = service.outlier
        attempt = 0
        while True:
            attempt += 1
            endpoint = backend.balancer.only or backend.balancer.pick()
            if endpoint is None:
                self._respond_error(request, 503, f"backend {backend.name} has no endpoints")
                return 503, attempt
            # --- one try ---
            idle = endpoint.idle
            upstream = idle.pop() if idle else None
            try:
                if upstream is None or upstream.closed:
                    upstream = await endpoint.acquire()
                else:
                    upstream.reused = True
            except UpstreamError as exc:
                failure = exc.kind
                upstream = None
            else:
                reused = upstream.reused
                response = UpstreamResponse(loop, request.method == "HEAD", BUFFER_LIMIT)
                timer = (
                    loop.call_later(
                        policy.per_try_timeout, response.on_error, UpstreamError("timeout", "per-try timeout")
                    )
                    if policy.per_try_timeout
                    else None
                )
                endpoint.active += 1
                self.current = response
                try:
                    if request.complete and not request.body:
                        upstream.send(response, head)
                    else:
                        upstream.send(response, request.attach(upstream, head))
                    await response.waiter
                except BaseException:
                    request.sink = None
                    upstream.close()
                    raise
                finally:
                    self.current = None
                    endpoint.active -= 1
                    if timer is not None:
                        timer.cancel()
                error = response.error
                if error is None:
                    failure = None
                else:
                    request.sink = None
                    upstream.close()
                    stale = reused and response.status == 0 and error.kind == "reset"
                    failure = "stale" if stale else error.kind
            # --- judge it ---
            if failure is not None:
                if failure not in ("overflow", "stale") and outlier.record(endpoint, True):
                    self._count_ejection(backend, endpoint)
                if self.expired:
                    self._respond_error(request, 504, f"no answer within {policy.timeout}s")
                    return 504, attempt
                if request.replayable and (
                    policy.may_retry(request.method, attempt, failure)
                    or (failure == "stale" and (request.method in http1.IDEMPOTENT or not request.body_size))
                ):
                    continue
                status = _FAILURE_STATUS.get(failure, 502)
                self._respond_error(request, status, f"upstream {endpoint.name}: {failure}")
                return status, attempt
            status = response.status
            if status >= 500:
                if outlier.record(endpoint, True):
                    self._count_ejection(backend, endpoint)
                if (
                    response.complete
                    and request.replayable
                    and request.complete
                    and policy.may_retry(request.method, attempt, status_failure(status))  # type: ignore[arg-type]
                ):
                    endpoint.release(upstream, response.keep_alive)
                    continue
            elif endpoint.consecutive_failures:
                outlier.record(endpoint, False)
            if response.complete:
                head, _, close = self._head(request, response, set_cookie, streaming=False)
                request.answered = True
                request.sink = None
                chunks = response.chunks
                transport = self.transport
                if not chunks:
                    transport.write(head)
                elif len(chunks) == 1:
                    transport.write(head + chunks[0])
                else:
                    transport.write(b"".join((head, *chunks)))
                endpoint.release(upstream, response.keep_alive and request.complete)
                if close:
                    self.closing = True
                    transport.close()
            else:
                await self._stream(request, response, upstream, endpoint, set_cookie)
            return status, attempt

    @staticmethod
    def _count_ejection(backend: BackendRuntime, endpoint: EndpointPool) -> None:
        counter = backend.ejections.get(endpoint.name)
        if counter is not None:
            counter.value += 1

    def _head(
        self, request: ClientRequest, response: UpstreamResponse, set_cookie: bytes, streaming: bool
    ) -> tuple[bytes, bool, bool]:
        """(response head, client framing is chunked, close after)."""
        close = not request.keep_alive or self.listener.draining or self.closing or not request.complete
        lines, length = http1.response_lines(response.headers)
        status = response.status
        chunked = False
        if streaming:
            chunked = length is None and request.version == "1.1"
            if length is not None:
                framing = b"content-length: %s\r\n" % length
            elif chunked:
                framing = http1.CHUNKED
            else:
                framing, close = b"", True  # HTTP/1.0 client: the end of the body is the close
        elif response.head_only or status in (204, 304):
            framing = b"content-length: %s\r\n" % length if length is not None and status != 204 else b""
        else:
            framing = b"content-length: %d\r\n" % response.size
        line = http1.STATUS_LINES.get(status) or http1.status_line(status)
        head = b"%s%s%s%svia: 1.1 sluice\r\n%s\r\n" % (
            line,
            b"".join(lines),
            framing,
            set_cookie,
            http1.CONNECTION_CLOSE if close else b"",
        )
        return head, chunked, close

    async def _stream(
        self,
        request: ClientRequest,
        response: UpstreamResponse,
        upstream: UpstreamConnection,
        endpoint: EndpointPool,
        set_cookie: bytes,
    ) -> None:
        """Send the head and what has arrived, then the rest as it comes, with back-pressure both ways."""
        head, chunked, close = self._head(request, response, set_cookie, streaming=True)
        transport = self.transport
        request.answered = True
        transport.write(head)
        if chunked:
            transport.writelines([http1.chunk(c) for c in response.chunks])
            response.sink = lambda data: transport.write(http1.chunk(data))
        else:
            transport.writelines(response.chunks)
            response.sink = transport.write
        response.chunks = []
        response.waiter = self.proxy.loop.create_future()
        self.streaming_from = upstream
        self.current = response
        try:
            await response.waiter
        except BaseException:
            upstream.close()
            raise
        finally:
            self.streaming_from = None
            self.current = None
        request.sink = None
        if response.error is not None:
            upstream.close()
            self.closing = True
            transport.abort()  # the head is gone; cutting the connection is the only honest signal
            return
        if chunked:
            transport.write(http1.LAST_CHUNK)
        endpoint.release(upstream, response.keep_alive and request.complete)
        if close:
            self.closing = True
            transport.close()

    def _respond_error(self, request: ClientRequest, status: int, message: str) -> None:
        if request.answered:  # too late for a status: cut the connection so the client sees the failure
            self.closing = True
            self.transport.abort()
            return
        request.answered = True
        close = not request.complete or not request.keep_alive or self.listener.draining
        self.transport.write(http1.error_response(status, message, close=close))
        if close:
            self.closing = True
            self.transport.close()
