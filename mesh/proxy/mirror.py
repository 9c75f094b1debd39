"""Fire-and-forget copies of requests to a shadow backend.

A mirrored request starts after the real response has been written, its response is read and dropped,
and its failures are swallowed: the shadow can be slow, broken or gone and the client never notices.
Copies in flight are capped so a stuck shadow cannot pile up memory.

Yet a copy is a real request the shadow served, and judging the shadow on it is the point of mirroring
(a blue/green or mirror pre-stage canary gets no other traffic). So each copy's outcome and latency are
recorded under the shadow backend, in its window and its request and latency counters, exactly like a
routed request: the status it answered, 502 when it could not be reached or broke off, 503 when it has
no endpoint, 504 when it did not answer within the copy's timeout.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from functools import partial

from mesh.proxy import http1
from mesh.proxy.balancer import Balancer
from mesh.proxy.metrics import RouteCell
from mesh.proxy.upstream_pool import UpstreamError, UpstreamResponse
from mesh.proxy.windows import Window

MAX_IN_FLIGHT = 256
TIMEOUT_SECONDS = 5.0


def _discard(_: bytes) -> None:
    return None


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


@dataclass(frozen=True)
class MirrorStats:
    """Where a copy's outcome goes: the shadow backend's counters (for its route) and its window."""

    cell: RouteCell
    window: Window

    def record(self, status: int, seconds: float) -> None:
        self.cell.observe(status, seconds)
        self.window.record(int(time.perf_counter()), seconds * 1000.0, status >= 500)


class Mirror:
    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.in_flight: set[asyncio.Task[None]] = set()

    def send(
        self,
        balancer: Balancer,
        method: str,
        head: bytes,
        body: list[bytes],
        chunked: bool,
        stats: MirrorStats | None = None,
    ) -> None:
        if len(self.in_flight) >= MAX_IN_FLIGHT:
            return
        if chunked:
            payload = b"".join((head, *map(http1.chunk, body), http1.LAST_CHUNK))
        else:
            payload = b"".join((head, *body))
        task = self.loop.create_task(self._copy(balancer, method, payload, stats))
        self.in_flight.add(task)
        task.add_done_callback(self.in_flight.discard)

    async def _copy(self, balancer: Balancer, method: str, payload: bytes, stats: MirrorStats | None) -> None:
        started = time.perf_counter()
        status = await self._exchange(balancer, method, payload)
        if stats is not None:
            stats.record(status, time.perf_counter() - started)

    async def _exchange(self, balancer: Balancer, method: str, payload: bytes) -> int:
        """Send one copy and read its answer; the status it answered, or the proxy's for a failure."""
        endpoint = balancer.pick()
        if endpoint is None:
            return 503
        try:
            async with asyncio.timeout(TIMEOUT_SECONDS):
                upstream = await endpoint.acquire()
                done = self.loop.create_future()
                response = UpstreamResponse(partial(_resolve, done), method == "HEAD", 0)
                response.sink = _discard
                try:
                    upstream.send(response, payload)
                    await done
                except BaseException:
                    upstream.close()
                    raise
                endpoint.release(upstream, response.error is None and response.keep_alive)
        except TimeoutError:
            return 504
        except (UpstreamError, OSError):
            return 502
        return 502 if response.error is not None or not response.status else response.status
