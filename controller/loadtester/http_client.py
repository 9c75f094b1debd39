"""A minimal keep-alive HTTP/1.1 client for the load generator: one connection, one request at a time.

httpx's async client spends about 2 ms of CPU per request, which caps one generator at ~400 req/s on a
loaded laptop; the load generator must not be what limits a demo. This client pre-builds the request
bytes once, parses responses with httptools (already a sluice dependency, the proxy's parser), and
reconnects when the server closes the connection.
"""

from __future__ import annotations

import asyncio
import ssl
from urllib.parse import urlsplit

import httptools


class _Response:
    """httptools callbacks: completion and keep-alive matter; the body is discarded.

    Keep-alive is read when the headers are complete: once the message is, httptools has reset and
    `should_keep_alive()` says False.
    """

    def __init__(self, head_only: bool) -> None:
        self.head_only = head_only
        self.complete = False
        self.keep_alive = False
        self.parser = httptools.HttpResponseParser(self)

    def on_headers_complete(self) -> None:
        self.keep_alive = self.parser.should_keep_alive()
        if self.head_only:
            self.complete = True

    def on_message_complete(self) -> None:
        self.complete = True


def build_request(url: str, method: str, headers: dict[str, str], body: bytes) -> bytes:
    parts = urlsplit(url)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    lowered = {name.lower() for name in headers}
    lines = [f"{method} {target} HTTP/1.1"]
    if "host" not in lowered:
        lines.append(f"Host: {parts.netloc}")
    lines += [f"{name}: {value}" for name, value in headers.items()]
    if body or method in ("POST", "PUT", "PATCH"):
        lines.append(f"Content-Length: {len(body)}")
    if "user-agent" not in lowered:
        lines.append("User-Agent: sluice-loadtester")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


class Connection:
    def __init__(self, url: str, method: str, headers: dict[str, str], body: bytes, timeout: float) -> None:
        parts = urlsplit(url)
        self.host = parts.hostname or "127.0.0.1"
        self.tls = parts.scheme == "https"
        self.port = parts.port or (443 if self.tls else 80)
        self.head_only = method == "HEAD"
        self.request = build_request(url, method, headers, body)
        self.timeout = timeout
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def send(self) -> int:
        """Send the request, read the whole response, its status; raises on timeout or a broken link."""
        try:
            async with asyncio.timeout(self.timeout):
                reused = self.writer is not None
                try:
                    return await self._exchange()
                except _ClosedBeforeResponse:
                    if not reused:
                        raise
                    return await self._exchange()  # the server closed an idle connection: once more, afresh
        except BaseException:
            self.close()
            raise

    async def _exchange(self) -> int:
        if self.writer is None:
            context = ssl.create_default_context() if self.tls else None
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port, ssl=context)
        assert self.reader is not None
        self.writer.write(self.request)
        response = _Response(self.head_only)
        received = False
        while not response.complete:
            data = await self.reader.read(65536)
            if not data:
                self.close()
                raise _ClosedBeforeResponse() if not received else ConnectionResetError("response cut short")
            received = True
            response.parser.feed_data(data)
        if not response.keep_alive:
            self.close()
        return response.parser.get_status_code()

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


class _ClosedBeforeResponse(ConnectionResetError):
    """The server closed the connection before sending any byte of the response."""
