"""Readiness checks for local processes: an HTTP GET when the Workload has a probe, else a TCP connect."""

from __future__ import annotations

import http.client
import socket

from controller.api.workload import ReadinessProbe


def probe(port: int, readiness: ReadinessProbe | None) -> bool:
    """One check against 127.0.0.1:port; 2xx and 3xx answers are ready, anything else (or nothing) is not."""
    if readiness is None:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1.0):
                return True
        except OSError:
            return False
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=readiness.timeout_seconds)
    try:
        conn.request("GET", readiness.http_get.path, headers={"User-Agent": "sluice-probe"})
        return 200 <= conn.getresponse().status < 400
    except (OSError, http.client.HTTPException):
        return False
    finally:
        conn.close()
