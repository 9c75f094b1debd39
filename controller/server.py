"""The controller's HTTP endpoints: /healthz (alive), /readyz (ready to act, e.g. holds leadership), /metrics.

A stdlib ThreadingHTTPServer on its own thread: three tiny endpoints do not justify another framework.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest


class ControllerServer:
    def __init__(
        self,
        registry: CollectorRegistry,
        ready: Callable[[], bool] = lambda: True,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self._registry = registry
        self._ready = ready
        handler = self._handler()
        self._httpd = ThreadingHTTPServer((host, port), handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="sluice-http", daemon=True)

    @property
    def port(self) -> int:
        return self._httpd.server_address[1]

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path == "/healthz":
                    self._reply(200, b"ok\n", "text/plain")
                elif self.path == "/readyz":
                    ok = server._ready()
                    self._reply(200 if ok else 503, b"ready\n" if ok else b"not ready\n", "text/plain")
                elif self.path == "/metrics":
                    self._reply(200, generate_latest(server._registry), CONTENT_TYPE_LATEST)
                else:
                    self._reply(404, b"not found\n", "text/plain")

            def _reply(self, code: int, body: bytes, content_type: str) -> None:
                self.send_response(code)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                return

        return Handler
