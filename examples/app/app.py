"""The sluice demo service: a tiny HTTP/1.1 app that reports its version and can be told to misbehave.

It is the "new version" every demo and end-to-end test rolls out, so it must run anywhere Python does
(standard library only, one file) and must never be the bottleneck or the source of errors it was not
asked for: asyncio streams with a minimal hand-written HTTP/1.1 parser, keep-alive by default, a few
thousand requests per second on loopback. Knobs (flags, or env APP_*): an error rate and a latency for
`/`, and a slow start during which `/healthz` answers 503. SIGTERM stops gracefully the way Go's
`http.Server.Shutdown` does: stop listening, close idle keep-alive connections, let in-flight requests
finish (answered with `Connection: close`), then exit 0.

    python examples/app/app.py --port 8080 --version v2 --error-rate 0.25 --latency 50ms --slow-start 3s
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

MAX_HEAD = 64 * 1024
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h)")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_duration(text: str) -> float:
    """Seconds in `500ms`, `3s`, `1m30s`, or a bare number of seconds (the app needs no sluice import)."""
    value = text.strip()
    with contextlib.suppress(ValueError):
        return float(value)
    pos, total = 0, 0.0
    for match in _DURATION_PART.finditer(value):
        if match.start() != pos:
            break
        total += float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
        pos = match.end()
    if not value or pos != len(value):
        raise argparse.ArgumentTypeError(f"not a duration: {text!r} (use e.g. 50ms, 3s, 1m)")
    return total


def error_rate(text: str) -> float:
    rate = float(text)
    if not 0.0 <= rate <= 1.0:
        raise argparse.ArgumentTypeError(f"error rate must be within 0..1, got {text}")
    return rate


@dataclass
class Settings:
    port: int
    host: str
    version: str
    error_rate: float
    latency: float
    slow_start: float
    shutdown_timeout: float


class BadRequest(Exception):
    """The client sent something that is not HTTP/1.x; answer 400 (or `status`) and close."""

    def __init__(self, status: int = 400) -> None:
        super().__init__(status)
        self.status = status


@dataclass
class Request:
    method: str
    path: str
    version: str
    headers: dict[str, str]

    @property
    def keep_alive(self) -> bool:
        connection = self.headers.get("connection", "").lower()
        if self.version == "HTTP/1.0":
            return "keep-alive" in connection
        return "close" not in connection


class ErrorSpreader:
    """Fails exactly `rate` of the requests, spread evenly (error diffusion), so short windows are honest.

    A random draw would also average out, but a canary judged on a 10-second window at 20 req/s sees only
    200 requests; spreading keeps the demo's outcome the same every run.
    """

    def __init__(self, rate: float) -> None:
        self.rate = rate
        self.debt = 0.0

    def next_fails(self) -> bool:
        self.debt += self.rate
        if self.debt >= 1.0 - 1e-9:
            self.debt -= 1.0
            return True
        return False


class App:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.started = time.monotonic()
        self.errors = ErrorSpreader(settings.error_rate)
        self.in_flight = 0
        self.served = 0
        self.connections = 0  # accepted so far: with keep-alive, far fewer than requests
        self.idle: set[asyncio.StreamWriter] = set()
        self.stopping = asyncio.Event()

    # --- routes -------------------------------------------------------------------------------------

    async def route(self, request: Request) -> tuple[int, dict]:
        path = request.path.split("?", 1)[0]
        version = self.settings.version
        if path == "/healthz":
            if time.monotonic() - self.started < self.settings.slow_start:
                return 503, {"status": "starting", "version": version}
            return 200, {"status": "ok", "version": version}
        if path == "/version":
            return 200, {"version": version}
        if path == "/stats":
            # The stats request itself is not counted as in flight.
            stats = {
                "requests": self.served,
                "in_flight": self.in_flight - 1,
                "connections": self.connections,
            }
            return 200, {"version": version, **stats}
        if path.startswith("/status/"):
            code = path.removeprefix("/status/")
            if not code.isdigit() or not 100 <= int(code) <= 599:
                return 400, {"error": f"not a status code: {code}"}
            return int(code), {"status": int(code), "version": version}
        if path.startswith("/delay/"):
            try:
                seconds = parse_duration(path.removeprefix("/delay/"))
            except argparse.ArgumentTypeError as exc:
                return 400, {"error": str(exc)}
            await asyncio.sleep(seconds)
            return 200, {"version": version, "delayed": seconds}
        if path == "/":
            if self.settings.latency > 0:
                await asyncio.sleep(self.settings.latency)
            if self.errors.next_fails():
                return 500, {"version": version, "error": "injected failure"}
            return 200, {"version": version, "message": f"hello from {version}", "pid": os.getpid()}
        return 404, {"error": f"no route for {path}", "version": version}

    # --- HTTP/1.1 -----------------------------------------------------------------------------------

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while not self.stopping.is_set():
                self.idle.add(writer)
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, ConnectionError):
                    return
                except asyncio.LimitOverrunError:
                    await self.respond(writer, None, 431, {"error": "request head too large"}, close=True)
                    return
                finally:
                    self.idle.discard(writer)
                self.in_flight += 1
                try:
                    keep_alive = await self.handle(head, reader, writer)
                finally:
                    self.in_flight -= 1
                    self.served += 1
                if not keep_alive:
                    return
        finally:
            self.idle.discard(writer)
            with contextlib.suppress(Exception):
                writer.close()

    async def handle(self, head: bytes, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        """Serve one request; whether the connection stays open."""
        try:
            request = parse_head(head)
            await read_body(request, reader, writer)
        except BadRequest as exc:
            await self.respond(writer, None, exc.status, {"error": HTTPStatus(exc.status).phrase}, close=True)
            return False
        except (asyncio.IncompleteReadError, ConnectionError):
            return False
        status, body = await self.route(request)
        keep_alive = request.keep_alive and not self.stopping.is_set()
        await self.respond(writer, request, status, body, close=not keep_alive)
        return keep_alive

    async def respond(
        self, writer: asyncio.StreamWriter, request: Request | None, status: int, body: dict, close: bool
    ) -> None:
        payload = json.dumps(body).encode()
        try:
            phrase = HTTPStatus(status).phrase
        except ValueError:
            phrase = "Status"
        head = (
            f"HTTP/1.1 {status} {phrase}\r\n"
            f"Content-Type: application/json\r\n"
            f"Content-Length: {len(payload)}\r\n"
            f"X-App-Version: {self.settings.version}\r\n"
            f"Connection: {'close' if close else 'keep-alive'}\r\n\r\n"
        )
        head_only = request is not None and request.method == "HEAD"
        writer.write(head.encode("latin-1") + (b"" if head_only else payload))
        with contextlib.suppress(ConnectionError):
            await writer.drain()

    # --- lifecycle ----------------------------------------------------------------------------------

    async def run(self) -> None:
        server = await asyncio.start_server(
            self.serve, self.settings.host, self.settings.port, limit=MAX_HEAD, backlog=1024
        )
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, self.stopping.set)
        print(
            f"app {self.settings.version} listening on {self.settings.host}:{self.settings.port} "
            f"(error rate {self.settings.error_rate}, latency {self.settings.latency}s, "
            f"slow start {self.settings.slow_start}s)",
            flush=True,
        )
        await self.stopping.wait()
        server.close()
        for writer in list(self.idle):
            writer.close()
        deadline = time.monotonic() + self.settings.shutdown_timeout
        while self.in_flight and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        print(f"app {self.settings.version} stopped ({self.in_flight} requests cut off)", flush=True)


def parse_head(head: bytes) -> Request:
    try:
        lines = head[:-4].decode("latin-1").split("\r\n")
        method, target, version = lines[0].split(" ")
    except ValueError as exc:
        raise BadRequest() from exc
    if not version.startswith("HTTP/1."):
        raise BadRequest(505)
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if not sep:
            raise BadRequest()
        headers[name.strip().lower()] = value.strip()
    return Request(method, target, version, headers)


async def read_body(request: Request, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Read and discard the request body so the next request on the connection starts clean."""
    if request.headers.get("expect", "").lower() == "100-continue":
        writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")  # or curl waits a second before sending the body
    if "chunked" in request.headers.get("transfer-encoding", "").lower():
        while True:
            size_line = await reader.readuntil(b"\r\n")
            try:
                size = int(size_line.split(b";", 1)[0].strip(), 16)
            except ValueError as exc:
                raise BadRequest() from exc
            await reader.readexactly(size + 2)
            if size == 0:
                return
    length = request.headers.get("content-length", "0") or "0"
    if not length.isdigit():
        raise BadRequest()
    if int(length):
        await reader.readexactly(int(length))


# flag, type, default, help; each flag also reads APP_<FLAG> from the environment (the flag wins).
KNOBS: list[tuple[str, Callable[[str], Any], str, str]] = [
    ("port", int, "8080", "port to listen on"),
    ("host", str, "127.0.0.1", "address to listen on"),
    ("version", str, "v1", "reported by / and /version and in X-App-Version"),
    ("error-rate", error_rate, "0", "fraction of `/` requests answered 500, spread evenly (0..1)"),
    ("latency", parse_duration, "0", "added to every `/` request, e.g. 50ms"),
    ("slow-start", parse_duration, "0", "/healthz answers 503 for this long after start, e.g. 3s"),
    ("shutdown-timeout", parse_duration, "10s", "on SIGTERM, wait at most this long for in-flight requests"),
]


def settings_from(argv: list[str] | None = None) -> Settings:
    parser = argparse.ArgumentParser(description="sluice demo app")
    for flag, kind, default, help_text in KNOBS:
        env_name = "APP_" + flag.upper().replace("-", "_")
        # argparse converts a string default with `type`, so a bad env value is reported like a bad flag.
        parser.add_argument(
            f"--{flag}",
            type=kind,
            default=os.environ.get(env_name, default),
            help=f"{help_text} (env {env_name}, default {default})",
        )
    return Settings(
        **{flag.replace("-", "_"): value for flag, value in vars(parser.parse_args(argv)).items()}
    )


def main(argv: list[str] | None = None) -> int:
    asyncio.run(App(settings_from(argv)).run())
    return 0


if __name__ == "__main__":
    sys.exit(main())
