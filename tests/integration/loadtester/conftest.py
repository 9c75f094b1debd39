"""A real `sluice loadtester` process per test, on a free loopback port, stopped by its PID."""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from tests.harness.net import free_port, wait_for_http
from tests.harness.processes import python_module, start, stop

StartLoadtester = Callable[..., str]


@pytest.fixture
def start_loadtester(tmp_path: Path) -> Iterator[StartLoadtester]:
    procs: list[subprocess.Popen] = []

    def _start(*flags: str) -> str:
        port = free_port()
        args = python_module("controller.cli.loadtester", "--port", str(port), *flags)
        procs.append(start(args, tmp_path / f"loadtester-{port}.log"))
        url = f"http://127.0.0.1:{port}"
        wait_for_http(url + "/healthz")
        return url

    yield _start
    for proc in procs:
        stop(proc)


@pytest.fixture
def loadtester(start_loadtester: StartLoadtester) -> str:
    """The base URL of a running loadtester."""
    return start_loadtester()


def jobs(base: str) -> list[dict]:
    return httpx.get(base + "/jobs", timeout=5).json()
