"""examples/app as a real process: version, knobs (error rate, latency, slow start), keep-alive, SIGTERM."""

from __future__ import annotations

import http.client
import json
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from controller.loadtester.load import LoadSpec, run_load
from tests.harness.net import free_port, wait_for_http
from tests.harness.poll import wait_until
from tests.harness.processes import start, stop

APP = Path(__file__).resolve().parents[3] / "examples" / "app" / "app.py"

StartApp = Callable[..., tuple[int, subprocess.Popen]]


@pytest.fixture
def start_app(tmp_path: Path) -> Iterator[StartApp]:
    procs = []

    def _start(*flags: str, env: dict[str, str] | None = None, ready: str = "/version"):
        port = free_port()
        proc = start(
            [sys.executable, str(APP), "--port", str(port), *flags], tmp_path / f"app-{port}.log", env=env
        )
        procs.append(proc)
        wait_for_http(f"http://127.0.0.1:{port}{ready}")
        return port, proc

    yield _start
    for proc in procs:
        stop(proc)


def timed(call: Callable[[], object]) -> float:
    began = time.monotonic()
    call()
    return time.monotonic() - began


def get(conn: http.client.HTTPConnection, path: str) -> tuple[int, dict, http.client.HTTPResponse]:
    conn.request("GET", path)
    response = conn.getresponse()
    return response.status, json.loads(response.read()), response


def test_reports_its_version_on_one_keep_alive_connection(start_app: StartApp) -> None:
    port, _ = start_app("--version", "v2")
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    status, body, response = get(conn, "/")
    first_socket = conn.sock
    assert (status, body["version"], response.getheader("X-App-Version")) == (200, "v2", "v2")
    for _ in range(200):
        assert get(conn, "/version")[:2] == (200, {"version": "v2"})
    assert conn.sock is first_socket, "the connection was not kept alive"
    assert get(conn, "/status/418")[0] == 418
    assert get(conn, "/healthz")[0] == 200
    assert get(conn, "/nope")[0] == 404
    conn.close()


def test_flags_also_come_from_the_environment(start_app: StartApp) -> None:
    port, _ = start_app(env={"APP_VERSION": "v7", "APP_ERROR_RATE": "1"})
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    status, body, _ = get(conn, "/")
    assert (status, body["version"]) == (500, "v7")


def test_error_rate_is_honoured_over_a_thousand_requests(start_app: StartApp) -> None:
    port, _ = start_app("--error-rate", "0.25")
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    statuses = [get(conn, "/")[0] for _ in range(1000)]
    assert set(statuses) == {200, 500}
    assert 0.23 <= statuses.count(500) / 1000 <= 0.27
    assert all(get(conn, "/version")[0] == 200 for _ in range(20)), "error rate applies to / only"


def test_latency_is_added_to_root_only(start_app: StartApp) -> None:
    port, _ = start_app("--latency", "80ms")
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    began = time.monotonic()
    for _ in range(5):
        assert get(conn, "/")[0] == 200
    per_request = (time.monotonic() - began) / 5
    assert 0.08 <= per_request < 0.3
    assert min(timed(lambda: get(conn, "/healthz")) for _ in range(3)) < 0.05


def test_slow_start_answers_503_on_healthz_until_started(start_app: StartApp) -> None:
    began = time.monotonic()
    port, _ = start_app("--slow-start", "1500ms")
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    assert get(conn, "/healthz")[0] == 503
    wait_until(lambda: get(conn, "/healthz")[0] == 200, timeout=10, what="/healthz to turn 200")
    assert time.monotonic() - began >= 1.5


def test_sigterm_finishes_in_flight_requests_then_exits_zero(start_app: StartApp) -> None:
    port, proc = start_app()
    idle = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    assert get(idle, "/")[0] == 200  # now an idle keep-alive connection, which must not hold up the stop
    result: dict = {}

    def slow_request() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        status, body, response = get(conn, "/delay/1s")
        result.update(status=status, body=body, connection=response.getheader("Connection"))

    client = threading.Thread(target=slow_request)
    client.start()
    stats = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    wait_until(lambda: get(stats, "/stats")[1]["in_flight"] == 1, what="the slow request to be in flight")
    stats.close()
    began = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=10) == 0
    client.join(timeout=10)
    assert result == {"status": 200, "body": {"version": "v1", "delayed": 1.0}, "connection": "close"}
    assert time.monotonic() - began < 2.0, "the idle keep-alive connection held up the stop"


def test_sustains_thousands_of_requests_per_second_without_dropping_keep_alive(start_app: StartApp) -> None:
    port, _ = start_app()
    stats = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    before = get(stats, "/stats")[1]
    spec = LoadSpec(url=f"http://127.0.0.1:{port}/", rate=2000, duration=1.0, concurrency=10)
    began = time.monotonic()
    figures = run_load(spec, threading.Event(), {}).as_dict()
    elapsed = time.monotonic() - began
    after = get(stats, "/stats")[1]
    assert figures["codes"] == {"200": 2000} and figures["errors"] == {}
    assert elapsed < 1.5, f"2000 requests took {elapsed:.2f}s"
    assert after["requests"] - before["requests"] == 2000 + 1
    assert after["connections"] - before["connections"] == 10, "a keep-alive connection was dropped"


def test_pipelined_requests_with_chunked_body_then_http10_close(start_app: StartApp) -> None:
    port, _ = start_app("--version", "v3")
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(
            b"POST /status/201 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"5\r\nhello\r\n0\r\n\r\n"
            b"GET /version HTTP/1.0\r\n\r\n"
        )
        received = b""
        while chunk := sock.recv(65536):  # the server closes after the HTTP/1.0 answer
            received += chunk
    first, second = received.split(b"HTTP/1.1 ")[1:]
    assert first.startswith(b"201 ") and b"Connection: keep-alive" in first
    assert (
        second.startswith(b"200 ")
        and b"Connection: close" in second
        and second.endswith(b'{"version": "v3"}')
    )
