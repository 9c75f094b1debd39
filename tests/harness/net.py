"""Loopback ports and HTTP readiness for processes a test starts."""

from __future__ import annotations

import socket
import urllib.request

from tests.harness.poll import wait_until


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def http_ok(url: str, timeout: float = 1.0) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return 200 <= response.status < 300
    except OSError:
        return False


def wait_for_http(url: str, timeout: float = 15.0) -> None:
    wait_until(lambda: http_ok(url), timeout=timeout, what=f"{url} to answer 2xx")


def wait_for_port(port: int, host: str = "127.0.0.1", timeout: float = 15.0) -> None:
    def accepting() -> bool:
        with socket.socket() as sock:
            sock.settimeout(0.5)
            return sock.connect_ex((host, port)) == 0

    wait_until(accepting, timeout=timeout, what=f"{host}:{port} to accept connections")
