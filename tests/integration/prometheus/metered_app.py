"""An HTTP app that meters its own requests under the sluice proxy's metric names, for Prometheus tests.

Until the bundled proxy can sit in front of an app in these tests, this process stands in for the pair:
`GET /<service>/<backend>?status=500&delay_ms=150` answers with that status after that delay and counts
the request in `sluice_proxy_requests_total{namespace,service,backend,route,status_class}` and
`sluice_proxy_request_duration_seconds{namespace,service,backend,route}`, exactly as the proxy labels
them; `GET /metrics` serves them in the Prometheus text format. Every `--backend service/backend` is
exported at zero from the start, so Prometheus sees each counter before its first increase.

    python metered_app.py --port 9100 --namespace test --backend podinfo/podinfo-canary
"""

from __future__ import annotations

import argparse
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

ROUTE = "default"
STATUS_CLASSES = ("2xx", "3xx", "4xx", "5xx")


class Meters:
    def __init__(self, namespace: str) -> None:
        self.namespace = namespace
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "sluice_proxy_requests_total",
            "Requests proxied, by backend and status class.",
            ["namespace", "service", "backend", "route", "status_class"],
            registry=self.registry,
        )
        self.duration = Histogram(
            "sluice_proxy_request_duration_seconds",
            "Time to answer a request.",
            ["namespace", "service", "backend", "route"],
            registry=self.registry,
        )

    def declare(self, service: str, backend: str) -> None:
        for status_class in STATUS_CLASSES:
            self.requests.labels(self.namespace, service, backend, ROUTE, status_class)
        self.duration.labels(self.namespace, service, backend, ROUTE)

    def record(self, service: str, backend: str, status: int, seconds: float) -> None:
        self.requests.labels(self.namespace, service, backend, ROUTE, f"{status // 100}xx").inc()
        self.duration.labels(self.namespace, service, backend, ROUTE).observe(seconds)


def handler(meters: Meters) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            url = urllib.parse.urlsplit(self.path)
            if url.path == "/metrics":
                self._send(200, generate_latest(meters.registry), CONTENT_TYPE_LATEST)
                return
            parts = url.path.strip("/").split("/")
            if len(parts) != 2:
                self._send(404, b"want /<service>/<backend>\n")
                return
            started = time.perf_counter()
            params = urllib.parse.parse_qs(url.query)
            status = int(params.get("status", ["200"])[0])
            delay = float(params.get("delay_ms", ["0"])[0]) / 1000
            if delay:
                time.sleep(delay)  # the app's own latency, which the test wants Prometheus to see
            self._send(status, f"{parts[1]} says {status}\n".encode())
            meters.record(parts[0], parts[1], status, time.perf_counter() - started)

        def _send(self, status: int, body: bytes, content_type: str = "text/plain") -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Handler


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--namespace", default="default")
    parser.add_argument("--backend", action="append", default=[], help="service/backend to export at zero")
    args = parser.parse_args()
    meters = Meters(args.namespace)
    for pair in args.backend:
        service, backend = pair.split("/", 1)
        meters.declare(service, backend)
    ThreadingHTTPServer(("127.0.0.1", args.port), handler(meters)).serve_forever()


if __name__ == "__main__":
    main()
