"""The admin API on its own port: config read/replace, weights per service, windowed stats, /metrics.

It is a control path (a few calls per rollout step plus scrapes), so it uses asyncio Streams and a tiny
router, with JSON in and out. Every change goes through `parse_config` and `Proxy.apply`, which either
swaps the whole config in or leaves the old one serving and explains the refusal with a 400.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import time
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

import yaml

from mesh.proxy.config import ConfigError, Service, dump_config, parse_config
from mesh.proxy.metrics import CONTENT_TYPE
from mesh.proxy.schema import ValidationError
from mesh.proxy.traffic_metrics import traffic_metrics_list
from mesh.proxy.weights import RoutesBody, apply_routes, read_routes
from mesh.proxy.windows import KEEP_SECONDS, Window

if TYPE_CHECKING:
    from mesh.proxy.app import Proxy

MAX_BODY = 8 * 1024 * 1024
_SERVICE_ROUTES = re.compile(r"^/services/([^/]+)/routes$")


class HttpError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


Reply = tuple[int, str, bytes]


def _json(status: int, payload: Any) -> Reply:
    return status, "application/json", json.dumps(payload).encode()


class AdminServer:
    def __init__(self, proxy: Proxy) -> None:
        self.proxy = proxy
        self.server: asyncio.Server | None = None

    async def start(self, address: str, port: int) -> int:
        self.server = await asyncio.start_server(self._client, address, port, reuse_address=True)
        return self.server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        if self.server is not None:
            self.server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.server.wait_closed(), 1.0)

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
                    return
                lines = head.decode("latin-1").split("\r\n")
                method, target, _ = [*lines[0].split(" "), "", ""][:3]
                headers = {}
                for line in lines[1:]:
                    name, _, value = line.partition(":")
                    headers[name.strip().lower()] = value.strip()
                length = int(headers.get("content-length", "0") or 0)
                if length > MAX_BODY:
                    reply: Reply = _json(413, {"error": f"body larger than {MAX_BODY} bytes"})
                    body = b""
                else:
                    body = await reader.readexactly(length) if length else b""
                    try:
                        reply = await self.handle(method, target, body)
                    except HttpError as exc:
                        reply = _json(exc.status, {"error": str(exc)})
                status, content_type, payload = reply
                close = headers.get("connection", "").lower() == "close"
                head = (
                    f"HTTP/1.1 {status} {'OK' if status < 400 else 'Error'}\r\n"
                    f"content-type: {content_type}\r\ncontent-length: {len(payload)}\r\n"
                    + ("connection: close\r\n" if close else "")
                    + "\r\n"
                )
                writer.write(head.encode() + payload)
                await writer.drain()
                if close:
                    return
        except (ConnectionError, asyncio.IncompleteReadError):
            return
        finally:
            writer.close()

    async def handle(self, method: str, target: str, body: bytes) -> Reply:
        url = urlsplit(target)
        path, query = url.path.rstrip("/") or "/", parse_qs(url.query)
        if path == "/healthz" and method == "GET":
            return _json(200, {"status": "ok", "services": len(self.proxy.config.services)})
        if path == "/metrics" and method == "GET":
            return 200, CONTENT_TYPE, self.proxy.metrics.render()
        if path == "/config":
            if method == "GET":
                return _json(200, dump_config(self.proxy.config))
            if method == "PUT":
                return await self._replace(_decode(body))
        if path == "/stats/window" and method == "GET":
            return self._window(query)
        if path == "/stats/series" and method == "GET":
            return self._series(query)
        if path == "/traffic-metrics" and method == "GET":
            return self._traffic_metrics(query)
        if path == "/control-plane" and method == "GET":
            watch = self.proxy.config_watch
            if watch is None:
                raise HttpError(404, "this proxy is configured locally, not by a control plane")
            # 503 until a config from the control plane has applied: the gateway's readiness probe.
            return _json(200 if watch.synced.is_set() else 503, watch.status())
        found = _SERVICE_ROUTES.match(path)
        if found:
            namespace = query.get("namespace", [None])[0]
            index, service = self._service(found.group(1), namespace)
            if method == "GET":
                return _json(
                    200, {"service": service.name, "namespace": service.namespace, **read_routes(service)}
                )
            if method == "PUT":
                try:
                    routes = RoutesBody.model_validate(_decode(body))
                    updated = apply_routes(service, routes)
                except ValidationError as exc:
                    raise HttpError(400, exc.describe("body")) from None
                except ValueError as exc:
                    raise HttpError(400, str(exc)) from None
                data = dump_config(self.proxy.config)
                data["services"][index] = updated.model_dump(mode="json", exclude_none=True)
                await self._replace(data)
                return _json(
                    200, {"service": service.name, "namespace": service.namespace, **read_routes(updated)}
                )
        raise HttpError(404 if method in ("GET", "PUT") else 405, f"no such endpoint: {method} {path}")

    async def _replace(self, data: Any) -> Reply:
        try:
            config = parse_config(data)
            await self.proxy.apply(config)
        except ConfigError as exc:
            raise HttpError(400, str(exc)) from None
        return _json(200, {"status": "applied", "services": [s.name for s in config.services]})

    def _service(self, name: str, namespace: str | None) -> tuple[int, Service]:
        matches = [
            (i, s)
            for i, s in enumerate(self.proxy.config.services)
            if s.name == name and (namespace is None or s.namespace == namespace)
        ]
        if not matches:
            raise HttpError(404, f"unknown service {name!r}")
        if len(matches) > 1:
            raise HttpError(400, f"service {name!r} exists in several namespaces: add ?namespace=")
        return matches[0]

    def _traffic_metrics(self, query: dict[str, list[str]]) -> Reply:
        """SMI TrafficMetricsList of every service (or `service`), over `seconds` (default 60)."""
        try:
            seconds = int(query.get("seconds", ["60"])[0])
        except ValueError:
            raise HttpError(400, "seconds: expected a whole number of seconds") from None
        if not 1 <= seconds <= KEEP_SECONDS:
            raise HttpError(400, f"seconds: must be between 1 and {KEEP_SECONDS}")
        services = list(self.proxy.config.services)
        if query.get("service"):
            services = [self._service(query["service"][0], query.get("namespace", [None])[0])[1]]
        return _json(200, traffic_metrics_list(services, self.proxy.windows, seconds))

    def _window(self, query: dict[str, list[str]]) -> Reply:
        service_name, backend, seconds, window = self._backend_window(query)
        summary = window.summary(int(time.perf_counter()), seconds)  # the clock the data plane stamps with
        return _json(200, {"service": service_name, "backend": backend, "seconds": seconds, **summary})

    def _series(self, query: dict[str, list[str]]) -> Reply:
        """The window's per-second buckets, for the canary-vs-primary judge (analysis/judge.py)."""
        service_name, backend, seconds, window = self._backend_window(query)
        buckets = window.series(int(time.perf_counter()), seconds)
        return _json(
            200, {"service": service_name, "backend": backend, "seconds": seconds, "buckets": buckets}
        )

    def _backend_window(self, query: dict[str, list[str]]) -> tuple[str, str, int, Window]:
        """`service`, `backend`, `seconds` (1..KEEP_SECONDS) and optional `namespace` of a stats query."""

        def one(name: str) -> str:
            values = query.get(name)
            if not values or not values[0]:
                raise HttpError(400, f"query parameter {name!r} is required")
            return values[0]

        service_name, backend = one("service"), one("backend")
        try:
            seconds = int(one("seconds"))
        except ValueError:
            raise HttpError(400, "seconds: expected a whole number of seconds") from None
        if not 1 <= seconds <= KEEP_SECONDS:
            raise HttpError(400, f"seconds: must be between 1 and {KEEP_SECONDS}")
        _, service = self._service(service_name, query.get("namespace", [None])[0])
        if backend not in service.backends:
            raise HttpError(404, f"service {service_name!r} has no backend {backend!r}")
        return (
            service_name,
            backend,
            seconds,
            self.proxy.windows.window(service.namespace, service.name, backend),
        )


def _decode(body: bytes) -> Any:
    if not body.strip():
        return None
    try:
        return json.loads(body)
    except ValueError:
        pass
    try:
        return yaml.safe_load(body)
    except yaml.YAMLError as exc:
        raise HttpError(400, f"body: not valid JSON or YAML: {exc}") from None
