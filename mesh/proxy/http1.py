"""HTTP/1.1 framing shared by both sides of the proxy: status lines, hop-by-hop filtering, chunk framing.

Headers stay raw bytes as httptools hands them over; only names the proxy acts on are lower-cased, and
the constant pieces (status lines, canned error responses) are built once at import.
"""

from __future__ import annotations

from http import HTTPStatus

# RFC 9110 §7.6.1 plus the legacy ones proxies still strip; framing headers are rebuilt by the proxy.
HOP_BY_HOP = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-connection",
        b"te",
        b"trailer",
        b"transfer-encoding",
        b"upgrade",
        b"proxy-authenticate",
        b"proxy-authorization",
        b"content-length",
        b"expect",
    }
)

IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"})

STATUS_LINES: dict[int, bytes] = {
    status.value: b"HTTP/1.1 %d %s\r\n" % (status.value, status.phrase.encode()) for status in HTTPStatus
}

CRLF = b"\r\n"
LAST_CHUNK = b"0\r\n\r\n"
CHUNKED = b"transfer-encoding: chunked\r\n"
CONNECTION_CLOSE = b"connection: close\r\n"
CONTINUE_100 = b"HTTP/1.1 100 Continue\r\n\r\n"


def status_line(status: int) -> bytes:
    line = STATUS_LINES.get(status)
    return line if line is not None else b"HTTP/1.1 %d Unknown\r\n" % status


def chunk(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


def connection_tokens(headers: list[tuple[bytes, bytes]]) -> frozenset[bytes]:
    """Extra hop-by-hop names a sender listed in its Connection header."""
    listed: set[bytes] = set()
    for name, value in headers:
        if name.lower() == b"connection":
            listed.update(token.strip().lower() for token in value.split(b","))
    return frozenset(listed)


# Request headers the proxy rewrites itself on the way upstream.
REQUEST_DROP = HOP_BY_HOP | {b"x-forwarded-for"}


def end_to_end(
    headers: list[tuple[bytes, bytes]], listed: frozenset[bytes], drop: frozenset[bytes] = HOP_BY_HOP
) -> list[bytes]:
    """`name: value\\r\\n` lines of the headers that travel past this hop."""
    lines = []
    for name, value in headers:
        lowered = name.lower()
        if lowered in drop or (listed and lowered in listed):
            continue
        lines.append(b"%s: %s\r\n" % (name, value))
    return lines


def error_response(status: int, message: str, close: bool = False) -> bytes:
    body = (message + "\n").encode()
    return b"".join(
        (
            status_line(status),
            b"content-type: text/plain; charset=utf-8\r\ncontent-length: %d\r\n" % len(body),
            CONNECTION_CLOSE if close else b"",
            b"via: 1.1 sluice\r\n\r\n",
            body,
        )
    )
