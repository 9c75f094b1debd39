"""HTTP/1.1 framing shared by both sides of the proxy: status lines, hop-by-hop filtering, chunk framing.

Headers stay raw bytes as httptools hands them over; only names the proxy acts on are lower-cased, and
the constant pieces (status lines, canned error responses) are built once at import. A head being built
is a flat list of pieces, four per header (name, ": ", value, CRLF), joined once when it is written:
appending four references costs a fraction of formatting a line per header.
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

# What the response side does with a hop-by-hop header (bytebuild.hop_kind): drop it, or keep its value
# for the framing it rebuilds. 0 (END_TO_END) means not hop-by-hop: forwarded.
END_TO_END, DROP, CONTENT_LENGTH, CONNECTION = 0, 1, 2, 3
HOP_KINDS = {name: DROP for name in HOP_BY_HOP}
HOP_KINDS.update({b"content-length": CONTENT_LENGTH, b"connection": CONNECTION})

# Request headers the proxy rewrites itself on the way upstream.
REQUEST_DROP = HOP_BY_HOP | {b"x-forwarded-for"}

# Request bodies up to this size are kept for retries and mirroring; responses up to it are held whole.
BUFFER_LIMIT = 64 * 1024

IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"})

STATUS_LINES: dict[int, bytes] = {
    status.value: b"HTTP/1.1 %d %s\r\n" % (status.value, status.phrase.encode()) for status in HTTPStatus
}

CRLF = b"\r\n"
HEADER_SEP = b": "
LAST_CHUNK = b"0\r\n\r\n"
CHUNKED = b"transfer-encoding: chunked\r\n"
CONNECTION_CLOSE = b"connection: close\r\n"
CONTINUE_100 = b"HTTP/1.1 100 Continue\r\n\r\n"


def status_line(status: int) -> bytes:
    lines = STATUS_LINES
    line = lines.get(status)
    return line if line is not None else b"HTTP/1.1 %d Unknown\r\n" % status


def chunk(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


_PLAIN_CONNECTION = frozenset({b"keep-alive", b"close"})


def _listed(connection: bytes) -> frozenset[bytes]:
    """Header names a sender listed in its Connection header beyond those always dropped."""
    tokens = (token.strip().lower() for token in connection.split(b","))
    return frozenset(t for t in tokens if t and t not in HOP_BY_HOP and t not in (b"close", b"keep-alive"))


def add_header(pieces: list[bytes], name: bytes, value: bytes) -> None:
    pieces.append(name)
    pieces.append(HEADER_SEP)
    pieces.append(value)
    pieces.append(CRLF)


def drop_listed(pieces: list[bytes], connection: bytes | None) -> list[bytes]:
    """`pieces` without the headers a Connection header declared hop-by-hop (rare: usually a no-op)."""
    if connection is None or connection == b"keep-alive" or connection.lower() in _PLAIN_CONNECTION:
        return pieces
    listed = _listed(connection)
    if not listed:
        return pieces
    kept: list[bytes] = []
    for start in range(0, len(pieces), 4):
        if pieces[start].lower() not in listed:
            kept += pieces[start : start + 4]
    return kept


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
