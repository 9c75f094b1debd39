"""Opt-in JSON access log, one line per request, buffered and flushed by the proxy's housekeeping tick.

Writing a line synchronously per request would add a syscall to the hot path; the buffer is flushed at
least once a second and when the proxy stops.
"""

from __future__ import annotations

import json
import sys
import time
from typing import IO


class AccessLog:
    def __init__(self, path: str) -> None:
        self.path = path
        self.stream: IO[str] = sys.stdout if path == "-" else open(path, "a", buffering=1 << 16)  # noqa: SIM115

    def write(
        self,
        *,
        service: str,
        route: str,
        backend: str,
        method: str,
        path: str,
        status: int,
        duration_ms: float,
        attempts: int,
        client: str,
    ) -> None:
        record = {
            "ts": round(time.time(), 3),
            "service": service,
            "route": route,
            "backend": backend,
            "method": method,
            "path": path,
            "status": status,
            "duration_ms": round(duration_ms, 3),
            "attempts": attempts,
            "client": client,
        }
        self.stream.write(json.dumps(record, separators=(",", ":")) + "\n")

    def flush(self) -> None:
        self.stream.flush()

    def close(self) -> None:
        self.flush()
        if self.stream is not sys.stdout:
            self.stream.close()
