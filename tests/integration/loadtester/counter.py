"""A load target for tests: an HTTP/1.1 keep-alive server that records when each request arrived, and
with which headers, so a test can measure the rate a load generator really delivered."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Counter:
    url: str = ""
    arrivals: list[float] = field(default_factory=list)  # time.monotonic() of each request
    headers: list[dict[str, str]] = field(default_factory=list)
    methods: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def count(self) -> int:
        with self.lock:
            return len(self.arrivals)

    def per_second(self) -> list[int]:
        """Requests in each whole second since the first one (a partial last second is left out)."""
        with self.lock:
            first, last = self.arrivals[0], self.arrivals[-1]
            buckets = [0] * int(last - first)
            for arrival in self.arrivals:
                second = int(arrival - first)
                if second < len(buckets):
                    buckets[second] += 1
            return buckets


def _handler(counter: Counter) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Headers and body go out in two writes; with Nagle on, delayed ACKs stall each keep-alive
        # response ~40 ms and the target, not the generator, would set the rate.
        disable_nagle_algorithm = True

        def _count(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            if length:
                self.rfile.read(length)
            with counter.lock:
                counter.arrivals.append(time.monotonic())
                counter.headers.append(dict(self.headers.items()))
                counter.methods.append(self.command)
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        do_GET = do_POST = _count

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Handler


@contextmanager
def counting() -> Iterator[Counter]:
    counter = Counter()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(counter))
    server.daemon_threads = True
    counter.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield counter
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
