"""A real HTTP server on 127.0.0.1 that records every request and answers from a script.

Tests point the notifiers (and slack-sdk) at it and assert the exact requests a chat service would get.
"""

from __future__ import annotations

import itertools
import json
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    at: float

    def json(self) -> Any:
        return json.loads(self.body)


# (status, headers, body); a dict body is sent as JSON.
Answer = tuple[int, dict[str, str], Any]
Responder = Callable[[Request], Answer]


def ok(_: Request) -> Answer:
    return 200, {}, "ok"


class Receiver:
    def __init__(self, respond: Responder = ok) -> None:
        self.respond = respond
        self.requests: list[Request] = []
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                request = Request(
                    method="POST",
                    path=self.path,
                    headers={k.lower(): v for k, v in self.headers.items()},
                    body=self.rfile.read(length),
                    at=time.monotonic(),
                )
                with receiver._lock:
                    receiver.requests.append(request)
                status, headers, body = receiver.respond(request)
                data = json.dumps(body).encode() if isinstance(body, dict) else str(body).encode()
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                if isinstance(body, dict):
                    self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)

    def __enter__(self) -> Receiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def received(self) -> list[Request]:
        with self._lock:
            return list(self.requests)


class Script:
    """Answers in order from a list, then the last answer forever."""

    def __init__(self, *answers: Answer) -> None:
        self.answers = list(answers)

    def __call__(self, _: Request) -> Answer:
        return self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]


class Silent:
    """A port that accepts TCP connections (kernel backlog) and never answers a byte."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(512)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"

    def __enter__(self) -> Silent:
        return self

    def __exit__(self, *exc: object) -> None:
        self.sock.close()


class SlackWebApi:
    """Answers like the Slack Web API: postMessage hands out channel id and ts; update echoes them."""

    def __init__(self) -> None:
        self.ts = (f"1700000000.{i:06d}" for i in itertools.count(1))
        self.missing: set[str] = set()

    def __call__(self, request: Request) -> Answer:
        body = request.json()
        if request.path == "/api/chat.postMessage":
            return 200, {}, {"ok": True, "channel": "C0123", "ts": next(self.ts)}
        if request.path == "/api/chat.update":
            if body["ts"] in self.missing:
                return 200, {}, {"ok": False, "error": "message_not_found"}
            return 200, {}, {"ok": True, "channel": body["channel"], "ts": body["ts"]}
        return 404, {}, {"ok": False, "error": "unknown_method"}
