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
from mesh.proxy.upstream_pool import UpstreamConnection, UpstreamError, UpstreamResponse

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

    def detach(self) -> None:
        self.sink = None


class ClientConnection(asyncio.Protocol):
    __slots__ = (
        "client_ip",
        "closing",
        "downstream_paused",
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
        lowered = request.lowered = {name.lower(): value for name, value in request.headers}  # type: ignore[union-attr]
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
        status, route_name, backend_name, attempts = 404, "", "", 0
        if service is None:
            self._respond_error(request, 404, "no service for this host")
        else:
            facts = RequestFacts(request.method, request.url, request.lowered)
            route = service.table.select(facts if service.table.routes else None)
            sticky_choice = None
            if service.sticky_cookie is not None and route.split.is_canary:
                sticky_choice = facts.cookies.get(service.sticky_cookie)
            backend_name = route.split.pick(sticky_choice)
            route_name = route.name
            set_cookie = b""
            if sticky_choice != backend_name and service.sticky_cookie is not None and route.split.is_canary:
                set_cookie = b"set-cookie: %s=%s%s\r\n" % (
                    service.sticky_cookie.encode(),
                    backend_name.encode(),
                    service.sticky_header,
                )
            backend = service.backends[backend_name]
            policy = service.policies[route_name]
            service.in_flight.value += 1
            try:
                status, attempts = await self._forward(request, service, backend, policy, set_cookie)
            except Exception as exc:  # a bug must cost one request, never the proxy
                self.proxy.log_error(f"request failed: {exc!r}")
                status = 500
                self.transport.abort()
            finally:
                service.in_flight.value -= 1
            seconds = _perf() - started
            cell = service.cells[route_name][backend_name]
            cell.observe(status, seconds)
            if attempts > 1:
                cell.retries += attempts - 1
            backend.window.record(int(time.time()), seconds * 1000.0, status >= 500)
            if service.mirror is not None and service.mirror is not backend:
                self._maybe_mirror(request, service)
        if self.proxy.access_log is not None:
            self.proxy.access_log.write(
                service=service.name if service else "",
                route=route_name,
                backend=backend_name,
                method=request.method,
                path=request.url.decode("latin-1"),
                status=status,
                duration_ms=(_perf() - started) * 1000.0,
                attempts=attempts,
                client=self.client_ip,
            )
        self._next()

    def _next(self) -> None:
        self.running = False
        self.task = None
        if self.closing:
            return
        if self.queue:
            self._start(self.queue.popleft())

    def _maybe_mirror(self, request: ClientRequest, service: ServiceRuntime) -> None:
        if not (request.complete and request.replayable):
            return
        if service.mirror_percent < 100 and random.random() * 100 >= service.mirror_percent:
            return
        mirror = service.mirror
        mirror.mirrored.value += 1  # type: ignore[union-attr]
        head = self._upstream_head(request, b"")
        self.proxy.mirror.send(mirror.balancer, request.method, head, request.body, request.chunked)  # type: ignore[union-attr]

    def _upstream_head(self, request: ClientRequest, trace: bytes) -> bytes:
        lowered = request.lowered
        listed = http1.connection_tokens(request.headers) if b"connection" in lowered else frozenset()
        forwarded_for = lowered.get(b"x-forwarded-for")
        if forwarded_for is not None:
            forwarded_for = b"%s, %s" % (forwarded_for, self.client_ip.encode())
        else:
            forwarded_for = self.client_ip.encode()
        if request.chunked:
            framing = http1.CHUNKED
        elif b"content-length" in lowered:
            framing = b"content-length: %s\r\n" % lowered[b"content-length"]
        else:
            framing = b""
        return b"".join(
            (
                b"%s %s HTTP/1.1\r\n" % (request.method.encode(), request.url),
                *http1.end_to_end(request.headers, listed, http1.REQUEST_DROP),
                b"x-forwarded-for: %s\r\nvia: %s sluice\r\n" % (forwarded_for, request.version.encode()),
                trace,
                framing,
                http1.CRLF,
            )
        )

    async def _forward(
        self,
        request: ClientRequest,
        service: ServiceRuntime,
        backend: BackendRuntime,
        policy: RoutePolicy,
        set_cookie: bytes,
    ) -> tuple[int, int]:
        """Answer `request` from `backend`; return (status sent, attempts made)."""
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
        attempt = 0
        try:
            async with asyncio.timeout(policy.timeout):
                while True:
                    attempt += 1
                    endpoint = backend.balancer.pick()
                    if endpoint is None:
                        self._respond_error(request, 503, f"backend {backend.name} has no endpoints")
                        return 503, attempt
                    try:
                        if policy.per_try_timeout is None:
                            response, upstream = await self._attempt(request, head, endpoint)
                        else:
                            async with asyncio.timeout(policy.per_try_timeout):
                                response, upstream = await self._attempt(request, head, endpoint)
                    except (UpstreamError, TimeoutError) as exc:
                        kind = exc.kind if isinstance(exc, UpstreamError) else "timeout"
                        if kind not in ("overflow", "stale"):
                            self._record_outcome(service, backend, endpoint, failed=True)
                        if request.replayable and (
                            policy.may_retry(request.method, attempt, kind)
                            or (
                                kind == "stale"
                                and (request.method in http1.IDEMPOTENT or not request.body_size)
                            )
                        ):
                            continue
                        status = _FAILURE_STATUS.get(kind, 502)
                        self._respond_error(request, status, f"upstream {endpoint.name}: {kind}")
                        return status, attempt
                    status = response.status
                    failed = status >= 500
                    self._record_outcome(service, backend, endpoint, failed)
                    failure = status_failure(status) if failed else None
                    if (
                        failure is not None
                        and response.complete
                        and request.replayable
                        and request.complete
                        and policy.may_retry(request.method, attempt, failure)
                    ):
                        endpoint.release(upstream, response.keep_alive)
                        continue
                    await self._commit(request, response, upstream, endpoint, set_cookie)
                    return status, attempt
        except TimeoutError:
            self._respond_error(request, 504, f"upstream timed out after {policy.timeout}s")
            return 504, attempt

    def _record_outcome(
        self, service: ServiceRuntime, backend: BackendRuntime, endpoint, failed: bool
    ) -> None:
        if service.outlier.record(endpoint, failed):
            counter = backend.ejections.get(endpoint.name)
            if counter is not None:
                counter.value += 1

    async def _attempt(
        self, request: ClientRequest, head: bytes, endpoint
    ) -> tuple[UpstreamResponse, UpstreamConnection]:
        upstream = await endpoint.acquire()
        reused = upstream.reused
        response = UpstreamResponse(self.proxy.loop, request.method == "HEAD", BUFFER_LIMIT)
        endpoint.active += 1
        try:
            upstream.send(response, request.attach(upstream, head))
            await response.waiter
        except BaseException:
            request.detach()
            upstream.close()
            raise
        finally:
            endpoint.active -= 1
        if response.error is not None:
            request.detach()
            upstream.close()
            if reused and response.status == 0 and response.error.kind == "reset":
                raise UpstreamError("stale", "pooled connection closed before answering")
            raise response.error
        return response, upstream

    async def _commit(
        self,
        request: ClientRequest,
        response: UpstreamResponse,
        upstream: UpstreamConnection,
        endpoint,
        set_cookie: bytes,
    ) -> None:
        """Write the response to the client: whole if held complete, else streamed as it arrives."""
        close = not request.keep_alive or self.listener.draining or self.closing
        upstream_headers = response.headers
        listed = http1.connection_tokens(upstream_headers)
        lines = http1.end_to_end(upstream_headers, listed)
        status = response.status
        no_body = response.head_only or status in (204, 304) or status < 200
        if response.complete:
            if no_body:
                length = next((v for n, v in upstream_headers if n.lower() == b"content-length"), None)
                framing = b"content-length: %s\r\n" % length if length is not None and status >= 200 else b""
            else:
                framing = b"content-length: %d\r\n" % response.size
            client_chunked = False
        else:
            length = next((v for n, v in upstream_headers if n.lower() == b"content-length"), None)
            client_chunked = length is None and request.version == "1.1"
            if length is not None:
                framing = b"content-length: %s\r\n" % length
            elif client_chunked:
                framing = http1.CHUNKED
            else:
                framing, close = b"", True
        if not request.complete:
            close = True  # the rest of the request body would be read as the next request
        head = b"".join(
            (
                http1.status_line(status),
                *lines,
                framing,
                set_cookie,
                b"via: 1.1 sluice\r\n",
                http1.CONNECTION_CLOSE if close else b"",
                http1.CRLF,
            )
        )
        transport = self.transport
        request.answered = True
        if response.complete:
            request.detach()
            transport.write(b"".join((head, *response.chunks)) if response.chunks else head)
            endpoint.release(upstream, response.keep_alive and request.complete)
        else:
            transport.write(head)
            transport.writelines(http1.chunk(c) for c in response.chunks) if client_chunked else (
                transport.writelines(response.chunks)
            )
            response.chunks = []
            response.sink = (
                (lambda data: transport.write(http1.chunk(data))) if client_chunked else transport.write
            )
            response.waiter = self.proxy.loop.create_future()
            self.streaming_from = upstream
            try:
                await response.waiter
            except BaseException:
                upstream.close()
                raise
            finally:
                self.streaming_from = None
            request.detach()
            if response.error is not None:
                upstream.close()
                transport.abort()  # the head is gone; cutting the connection is the only honest signal
                self.closing = True
                return
            if client_chunked:
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
