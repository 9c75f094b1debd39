"""Real processes for proxy tests: upstream HTTP servers and `sluice proxy`, on free loopback ports."""

from __future__ import annotations

import http.client
import json
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from mesh.proxy.admin_client import AdminClient
from tests.harness.net import free_port, wait_for_http, wait_for_port
from tests.harness.processes import start, stop

UPSTREAM = Path(__file__).with_name("upstream.py")


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def backend(self) -> str:
        return self.headers.get("x-backend", "")


class Client:
    """A keep-alive HTTP/1.1 client to one port (reconnects when the server closes)."""

    def __init__(self, port: int, timeout: float = 10.0) -> None:
        self.port = port
        self.timeout = timeout
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)

    def request(
        self, method: str = "GET", path: str = "/", body: Any = None, chunked: bool = False, **headers: str
    ) -> Reply:
        names = {key.replace("_", "-"): value for key, value in headers.items()}
        try:
            self.conn.request(method, path, body=body, headers=names, encode_chunked=chunked)
            response = self.conn.getresponse()
            data = response.read()
        except (http.client.HTTPException, OSError):
            self.conn.close()
            raise
        reply = Reply(response.status, {k.lower(): v for k, v in response.getheaders()}, data)
        if response.will_close:
            self.conn.close()
        return reply

    def close(self) -> None:
        self.conn.close()


@dataclass
class RunningProxy:
    port: int  # first service's port
    admin_port: int
    admin: AdminClient
    config_path: Path

    def client(self, port: int | None = None) -> Client:
        return Client(port or self.port)


@pytest.fixture
def upstream(tmp_path: Path) -> Iterator[Callable[[str], str]]:
    """Start an upstream process named `name`; returns its endpoint `127.0.0.1:PORT`."""
    procs = []

    def make(name: str) -> str:
        port = free_port()
        proc = start([sys.executable, str(UPSTREAM), name, str(port)], tmp_path / f"upstream-{name}.log")
        procs.append(proc)
        wait_for_port(port)
        return f"127.0.0.1:{port}"

    yield make
    for proc in procs:
        stop(proc)


@pytest.fixture
def proxy(tmp_path: Path) -> Iterator[Callable[[dict[str, Any]], RunningProxy]]:
    """Start `sluice proxy` with a config mapping (service ports are filled in when set to 0)."""
    procs = []

    def make(config: dict[str, Any]) -> RunningProxy:
        for service in config.get("services", []):
            if not service.get("port"):
                service["port"] = free_port()
        path = tmp_path / f"proxy-{len(procs)}.yaml"
        path.write_text(yaml.safe_dump(config))
        admin_port = free_port()
        args = [
            sys.executable,
            "-m",
            "controller.cli.proxy",
            "--config",
            str(path),
            "--admin-port",
            str(admin_port),
        ]
        procs.append(start(args, tmp_path / f"proxy-{len(procs)}.log", cwd=Path(__file__).parents[3]))
        wait_for_http(f"http://127.0.0.1:{admin_port}/healthz")
        first = config["services"][0]["port"] if config.get("services") else 0
        return RunningProxy(first, admin_port, AdminClient(f"http://127.0.0.1:{admin_port}"), path)

    yield make
    for proc in procs:
        stop(proc)


def canary_service(primary: str, canary: str, **extra: Any) -> dict[str, Any]:
    """A `podinfo` service with primary and canary backends; `extra` overrides fields."""
    service: dict[str, Any] = {
        "name": "podinfo",
        "port": 0,
        "backends": {
            "podinfo-primary": {"endpoints": [primary]},
            "podinfo-canary": {"endpoints": [canary]},
        },
        "split": {"podinfo-primary": 100, "podinfo-canary": 0},
    }
    service.update(extra)
    return service
