"""One request's trip upstream: choosing endpoints, tries, timers, judging the answer, writing it back.

An Exchange is driven by callbacks, not a task: a task and a future per request cost ~3 µs, a sixth of
the whole per-request budget (mesh.md §4.2). The common request runs start -> send on a pooled
connection -> `_answered` (called by the upstream protocol) -> write, all synchronously in protocol
callbacks. Only what must wait on something else uses the loop: opening a connection or queueing for
one (a small coroutine), a fault delay and the timeouts (timers).

A response is committed to the client only once complete or too big to hold (64 KiB), which is what
lets a 5xx be retried and an upstream dying mid-response become a clean 502.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING

from mesh.proxy import http1
from mesh.proxy.bytebuild import content_length, join
from mesh.proxy.http1 import (
    BUFFER_LIMIT,
    CHUNKED,
    CONNECTION_CLOSE,
    CRLF,
    add_header,
    drop_listed,
    status_line,
)
from mesh.proxy.resilience import RoutePolicy, status_failure
from mesh.proxy.services import BackendRuntime, ServiceRuntime
from mesh.proxy.tracing import trace_headers
from mesh.proxy.upstream_pool import EndpointPool, UpstreamConnection, UpstreamError, UpstreamResponse

if TYPE_CHECKING:
    from mesh.proxy.deadlines import Deadlines
    from mesh.proxy.server import ClientConnection, ClientRequest


_FAILURE_STATUS = {"connect-failure": 502, "reset": 502, "protocol": 502, "overflow": 503, "timeout": 504}
_perf = time.perf_counter
_NEVER = float("inf")  # no deadline
_VIA = b"via: 1.1 sluice\r\n\r\n"
_VIA_CLOSE = b"via: 1.1 sluice\r\n" + CONNECTION_CLOSE + CRLF


class Exchange:
    # Attribute types are declared in exchange.pxd, for the compiled build (docs/proxy.md).

    def __init__(
        self,
        client: ClientConnection,
        request: ClientRequest,
        service: ServiceRuntime,
        route_name: str,
        backend: BackendRuntime,
        set_cookie: bytes,
        started: float,
    ) -> None:
        self.client = client
        self.request = request
        self.service = service
        self.route_name = route_name
        self.backend = backend
        self.policy: RoutePolicy = self.service.policies[route_name]
        self.set_cookie = set_cookie
        self.started = started
        self.attempt = 0
        self.expired = False
        self.done = False
        self.head = b""
        self.endpoint: EndpointPool | None = None
        self.upstream: UpstreamConnection | None = None
        self.response: UpstreamResponse | None = None
        self.waiting: asyncio.Task[None] | asyncio.TimerHandle | None = None
        # perf_counter seconds; Deadlines sweeps call on_deadline once next_deadline has passed.
        self.deadline_at = self.try_deadline_at = self.next_deadline = _NEVER

    # --- start ---------------------------------------------------------------------------------------

    def start(self) -> None:
        policy = self.policy
        self.service.in_flight.value += 1
        if policy.abort_percent:
            aborted = policy.draw_abort()
            if aborted is not None:
                self._fail_with(aborted, "fault injected")
                return
        if policy.timeout:
            self.deadline_at = self.next_deadline = self.started + policy.timeout
            deadlines: Deadlines = self.client.proxy.deadlines
            deadlines.watch(self)
        if policy.delay_percent:
            delay = policy.draw_delay()
            if delay:
                self.waiting = self.client.proxy.loop.call_later(delay, self._begin)
                return
        self._begin()

    def _begin(self) -> None:
        self.waiting = None
        self.head = self.client.upstream_head(self.request, trace_headers(self.request.lowered))
        self._try()

    def _try(self) -> None:
        self.attempt += 1
        balancer = self.backend.balancer
        endpoint = balancer.only
        if endpoint is None:
            endpoint = balancer.pick()
        self.endpoint = endpoint
        if endpoint is None:
            self._fail_with(503, f"backend {self.backend.name} has no endpoints")
            return
        upstream = endpoint.take_idle()
        if upstream is None:
            self.waiting = self.client.proxy.loop.create_task(self._connect(endpoint))
            return
        self._send(upstream)

    async def _connect(self, endpoint: EndpointPool) -> None:
        try:
            upstream = await endpoint.acquire()
        except UpstreamError as exc:
            self.waiting = None
            self._tried(exc.kind)
            return
        except asyncio.CancelledError:  # the deadline passed, or the request was dropped
            self.waiting = None
            return
        self.waiting = None
        if self.done:
            endpoint.release(upstream, True)
            return
        self._send(upstream)

    def _send(self, upstream: UpstreamConnection) -> None:
        request = self.request
        self.upstream = upstream
        response = self.response = UpstreamResponse(self._answered, request.method == "HEAD", BUFFER_LIMIT)
        per_try = self.policy.per_try_timeout
        if per_try:
            self.try_deadline_at = _perf() + per_try
            self.next_deadline = min(self.deadline_at, self.try_deadline_at)
            deadlines: Deadlines = self.client.proxy.deadlines
            deadlines.watch(self)
        self.endpoint.active += 1  # type: ignore[union-attr]
        if request.complete and not request.body:
            upstream.send(response, self.head)
        else:
            upstream.send(response, request.attach(upstream, self.head))

    # --- the answer ----------------------------------------------------------------------------------

    def _answered(self) -> None:
        """The response in hand is complete, too big to hold, or failed."""
        endpoint, upstream, response = self.endpoint, self.upstream, self.response
        self.endpoint.active -= 1  # type: ignore[union-attr]
        if self.try_deadline_at != _NEVER:
            self.try_deadline_at = _NEVER
            self.next_deadline = self.deadline_at
        self.response = None
        if self.done:  # dropped meanwhile (malformed body, client gone)
            upstream.close()  # type: ignore[union-attr]
            return
        error = response.error  # type: ignore[union-attr]
        if error is not None:
            self.request.sink = None
            upstream.close()  # type: ignore[union-attr]
            stale = upstream.reused and response.status == 0 and error.kind == "reset"  # type: ignore[union-attr]
            self._tried("stale" if stale else error.kind)
            return
        status = response.status  # type: ignore[union-attr]
        outlier = self.service.outlier
        if status >= 500:
            if outlier.record(endpoint, True):  # type: ignore[arg-type]
                self._count_ejection()
            request = self.request
            if (
                response.complete  # type: ignore[union-attr]
                and request.replayable
                and request.complete
                and not self.expired
                and self.policy.may_retry(request.method, self.attempt, status_failure(status))  # type: ignore[arg-type]
            ):
                endpoint.release(upstream, response.keep_alive)  # type: ignore[union-attr]
                self._try()
                return
        elif endpoint.consecutive_failures:  # type: ignore[union-attr]
            outlier.record(endpoint, False)  # type: ignore[arg-type]
        if response.complete:  # type: ignore[union-attr]
            self._write_whole(response)  # type: ignore[arg-type]
            endpoint.release(upstream, response.keep_alive and self.request.complete)  # type: ignore[union-attr]
            self._finish(status)
        else:
            self._start_streaming(response)  # type: ignore[arg-type]

    def _tried(self, failure: str) -> None:
        """An attempt failed before a usable response: retry, or answer with the failure's status."""
        endpoint = self.endpoint
        if failure not in ("overflow", "stale") and self.service.outlier.record(endpoint, True):  # type: ignore[arg-type]
            self._count_ejection()
        if self.expired:
            self._fail_with(504, f"no answer within {self.policy.timeout}s")
            return
        request = self.request
        if request.replayable and (
            self.policy.may_retry(request.method, self.attempt, failure)
            or (failure == "stale" and (request.method in http1.IDEMPOTENT or not request.body_size))
        ):
            self._try()
            return
        self._fail_with(_FAILURE_STATUS.get(failure, 502), f"upstream {endpoint.name}: {failure}")  # type: ignore[union-attr]

    def _count_ejection(self) -> None:
        counter = self.backend.ejections.get(self.endpoint.name)  # type: ignore[union-attr]
        if counter is not None:
            counter.value += 1

    def _head(self, response: UpstreamResponse, streaming: bool) -> tuple[bytes, bool, bool]:
        """(response head, client framing is chunked, close after)."""
        request, client = self.request, self.client
        close = (
            not request.keep_alive
            or client.listener.draining
            or client.closing
            or (client.half_closed and not client.queue)  # the last answer owed
            or not request.complete
        )
        length, status = response.length, response.status
        # The head is built once, in the response's own list of header pieces (done with after this).
        pieces = drop_listed(response.lines, response.connection)
        pieces.insert(0, status_line(status))
        chunked = False
        if streaming:
            chunked = length is None and request.version == "1.1"
            if length is not None:
                add_header(pieces, b"content-length", length)
            elif chunked:
                pieces.append(CHUNKED)
            else:
                close = True  # HTTP/1.0 client: the end of the body is the close
        elif response.head_only or status in (204, 304):
            if length is not None and status != 204:
                add_header(pieces, b"content-length", length)
        else:
            pieces.append(content_length(response.size))
        pieces.append(self.set_cookie)
        pieces.append(_VIA_CLOSE if close else _VIA)
        head = join(pieces)
        return head, chunked, close

    def _write_whole(self, response: UpstreamResponse) -> None:
        head, _, close = self._head(response, streaming=False)
        self.request.answered = True
        self.request.sink = None
        chunks = response.chunks
        client = self.client
        if not chunks:
            client.write(head)
        elif len(chunks) == 1:
            client.write(head + chunks[0])
        else:
            client.write(b"".join((head, *chunks)))
        if close:
            self.client.close_after_answer()

    def _start_streaming(self, response: UpstreamResponse) -> None:
        """Send the head and what has arrived, then the rest as it comes, with back-pressure both ways."""
        head, chunked, close = self._head(response, streaming=True)
        # The bound method as a Python callable: the sink outlives this call (see exchange.pxd).
        write = getattr(self.client, "write")  # noqa: B009
        self.request.answered = True
        if chunked:
            write(b"".join((head, *map(http1.chunk, response.chunks))))
            response.sink = lambda data: write(http1.chunk(data))
        else:
            write(b"".join((head, *response.chunks)))
            response.sink = write
        response.chunks = []
        self.response = response
        self.client.streaming_from = self.upstream
        response.notify = lambda: self._streamed(response, chunked, close)

    def _streamed(self, response: UpstreamResponse, chunked: bool, close: bool) -> None:
        self.response = None
        self.client.streaming_from = None
        self.request.sink = None
        upstream = self.upstream
        if response.error is not None or self.done:
            upstream.close()  # type: ignore[union-attr]
            self.client.abort()  # the head is gone; cutting the connection is the only honest signal
            self._finish(504 if self.expired else 502)
            return
        if chunked:
            self.client.write(http1.LAST_CHUNK)
        self.endpoint.release(upstream, response.keep_alive and self.request.complete)  # type: ignore[union-attr,arg-type]
        if close:
            self.client.close_after_answer()
        self._finish(response.status)

    # --- ends ----------------------------------------------------------------------------------------

    def on_deadline(self, now: float) -> None:
        if self.deadline_at <= now:
            self._expire()
        elif self.try_deadline_at <= now and self.response is not None:
            self.response.on_error(UpstreamError("timeout", "per-try timeout"))

    def _expire(self) -> None:
        self.deadline_at = self.next_deadline = _NEVER
        self.expired = True
        response = self.response
        if response is not None:
            response.on_error(UpstreamError("timeout", "the route's timeout passed"))
            return
        waiting = self.waiting
        if waiting is not None:  # opening a connection, queued for one, or in a fault delay
            waiting.cancel()
            self.waiting = None
        self._fail_with(504, f"no answer within {self.policy.timeout}s")

    def drop(self, status: int) -> None:
        """The client side gave up on this request (malformed body): stop, count it, answer nothing more."""
        if self.done:
            return
        response = self.response
        if response is not None and self.upstream is not None:
            response.notify = None
            self.upstream.close()
            if response.sink is None:  # still an attempt in flight, not a response being streamed
                self.endpoint.active -= 1  # type: ignore[union-attr]
            self.response = None
        if self.waiting is not None:
            self.waiting.cancel()
            self.waiting = None
        self._finish(status)

    def _fail_with(self, status: int, message: str) -> None:
        self.client.respond_error(self.request, status, message)
        self._finish(status)

    def _finish(self, status: int) -> None:
        if self.done:
            return
        self.done = True
        if self.policy.timeout or self.policy.per_try_timeout:
            deadlines: Deadlines = self.client.proxy.deadlines
            deadlines.unwatch(self)
        service, backend = self.service, self.backend
        service.in_flight.value -= 1
        now = _perf()
        seconds = now - self.started
        cell = service.cells[self.route_name][backend.name]
        cell.observe(status, seconds)
        if self.attempt > 1:
            cell.retries += self.attempt - 1
        backend.window.record(int(now), seconds * 1000.0, status >= 500)
        self.client.finished(self.request, service, self.route_name, backend, status, self.attempt)
