"""Trace context propagation: W3C `traceparent` and B3, kept consistent, a new trace when none came in.

The proxy does not record spans (an SDK span costs more than the whole per-request budget, mesh.md
§4.2); it makes sure every upstream request carries a trace id in both formats, reusing the caller's.
"""

from __future__ import annotations

import re

from mesh.proxy.bytebuild import new_trace_headers

_TRACEPARENT = re.compile(rb"^[0-9a-f]{2}-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$")
_HEX = re.compile(rb"^[0-9a-f]+$")
_ZERO_TRACE = b"0" * 32


def trace_headers(headers: dict[bytes, bytes]) -> bytes:
    """Header lines to add so the request carries both formats; b"" when both are already there."""
    if b"traceparent" not in headers and b"x-b3-traceid" not in headers and b"b3" not in headers:
        return new_trace_headers()  # the common case: start a trace
    traceparent = headers.get(b"traceparent")
    b3_trace = headers.get(b"x-b3-traceid")
    has_b3 = b3_trace is not None or b"b3" in headers
    if traceparent is not None and has_b3:
        return b""
    if traceparent is not None:
        found = _TRACEPARENT.match(traceparent.strip().lower())
        if found and found.group(1) != _ZERO_TRACE:
            sampled = b"1" if int(found.group(3), 16) & 1 else b"0"
            return b"x-b3-traceid: %s\r\nx-b3-spanid: %s\r\nx-b3-sampled: %s\r\n" % (
                found.group(1),
                found.group(2),
                sampled,
            )
    if b3_trace is not None and traceparent is None:
        trace = b3_trace.strip().lower()
        span = headers.get(b"x-b3-spanid", b"").strip().lower()
        if _HEX.match(trace) and len(trace) in (16, 32) and _HEX.match(span) and len(span) == 16:
            flags = b"00" if headers.get(b"x-b3-sampled", b"1").strip() == b"0" else b"01"
            return b"traceparent: 00-%s-%s-%s\r\n" % (trace.rjust(32, b"0"), span, flags)
    return b""  # present but unusable in the other format: pass along untouched
