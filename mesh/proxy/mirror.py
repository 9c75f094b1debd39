"""Fire-and-forget copies of requests to a shadow backend.

A mirrored request starts after the real response has been written, its response is read and dropped,
and its failures are swallowed: the shadow can be slow, broken or gone and the client never notices.
Copies in flight are capped so a stuck shadow cannot pile up memory.
"""

from __future__ import annotations

import asyncio
import contextlib
from functools import partial

from mesh.proxy import http1
from mesh.proxy.balancer import Balancer
from mesh.proxy.upstream_pool import UpstreamError, UpstreamResponse

MAX_IN_FLIGHT = 256
TIMEOUT_SECONDS = 5.0


def _discard(_: bytes) -> None:
    return None


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


class Mirror:
    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.in_flight: set[asyncio.Task[None]] = set()

    def send(self, balancer: Balancer, method: str, head: bytes, body: list[bytes], chunked: bool) -> None:
        if len(self.in_flight) >= MAX_IN_FLIGHT:
            return
        if chunked:
            payload = b"".join((head, *map(http1.chunk, body), http1.LAST_CHUNK))
        else:
            payload = b"".join((head, *body))
        task = self.loop.create_task(self._copy(balancer, method, payload))
        self.in_flight.add(task)
        task.add_done_callback(self.in_flight.discard)

    async def _copy(self, balancer: Balancer, method: str, payload: bytes) -> None:
        endpoint = balancer.pick()
        if endpoint is None:
            return
        with contextlib.suppress(UpstreamError, TimeoutError, OSError):
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
