"""Plain-dict access to the Kubernetes API over the official client's ApiClient (auth, TLS, pooling).

Why not the typed `AppsV1Api`/`CoreV1Api`: the platform copies pod templates between objects, rewrites
labels and hashes them as canonical JSON; that is simplest and most faithful on the JSON the server
sent, with no round trip through generated models that may drop or rename fields across client versions
(the very thing behind Flagger's spurious rollouts, #1673). So this module speaks dicts and paths, and
maps the two statuses the runtime cares about to the ports' exceptions: 404 -> NotFound, 409 -> Conflict.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlencode

from kubernetes.client import ApiClient
from kubernetes.client.rest import ApiException

from controller.ports.store import Conflict, NotFound

MERGE_PATCH = "application/merge-patch+json"


def resource_path(
    api_version: str,
    plural: str,
    namespace: str | None = None,
    name: str | None = None,
    subresource: str | None = None,
) -> str:
    base = "/api/v1" if api_version == "v1" else f"/apis/{api_version}"
    path = f"{base}/namespaces/{namespace}/{plural}" if namespace else f"{base}/{plural}"
    if name:
        path += f"/{name}"
    if subresource:
        path += f"/{subresource}"
    return path


class KubeClient:
    def __init__(self, api: ApiClient, timeout: float = 30.0) -> None:
        self.api = api
        self.timeout = timeout

    def request(
        self,
        method: str,
        path: str,
        query: dict[str, Any] | None = None,
        body: Any = None,
        content_type: str = "application/json",
    ) -> dict[str, Any]:
        response = self._send(method, path, query, body, content_type, self.timeout)
        data = response.read()
        if not 200 <= response.status <= 299:
            _raise(response.status, data, method, path)
        return json.loads(data) if data else {}

    def get(self, path: str, **query: Any) -> dict[str, Any]:
        return self.request("GET", path, query)

    def get_or_none(self, path: str) -> dict[str, Any] | None:
        try:
            return self.get(path)
        except NotFound:
            return None

    def create(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        return self.request("POST", path, body=body)

    def replace(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        return self.request("PUT", path, body=body)

    def patch(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        return self.request("PATCH", path, body=body, content_type=MERGE_PATCH)

    def delete(self, path: str) -> None:
        with contextlib.suppress(NotFound):
            self.request("DELETE", path)

    def watch(
        self, path: str, query: dict[str, Any], timeout: float, opened: Callable[[Any], None] = lambda r: None
    ) -> Iterator[dict[str, Any]]:
        """Watch events (`{type, object}`), one per line, until the server ends the stream.

        `opened` gets the underlying urllib3 response, whose `shutdown()` ends a blocked read from
        another thread (how an informer stops at once instead of at the watch's timeout)."""
        response = self._send("GET", path, {**query, "watch": "true"}, None, "application/json", timeout)
        opened(response.response)
        try:
            if not 200 <= response.status <= 299:
                _raise(response.status, response.read(), "WATCH", path)
            buffer = b""
            for chunk in response.response.stream(65536, decode_content=True):
                buffer += chunk
                *lines, buffer = buffer.split(b"\n")
                for line in lines:
                    if line.strip():
                        yield json.loads(line)
        finally:
            response.response.release_conn()

    def _send(
        self,
        method: str,
        path: str,
        query: dict[str, Any] | None,
        body: Any,
        content_type: str,
        timeout: float,
    ) -> Any:
        if query:
            path += "?" + urlencode({k: _query_value(v) for k, v in query.items() if v is not None})
        headers = {"Accept": "application/json", "Content-Type": content_type}
        _method, url, headers, *_ = self.api.param_serialize(
            method, path, header_params=headers, auth_settings=["BearerToken"]
        )
        return self.api.call_api(method, url, header_params=headers, body=body, _request_timeout=timeout)


def _query_value(value: Any) -> str:
    return ("true" if value else "false") if isinstance(value, bool) else str(value)


def _raise(status: int, data: bytes, method: str, path: str) -> None:
    try:
        message = json.loads(data).get("message", "")
    except (ValueError, AttributeError):
        message = data.decode(errors="replace")[:200]
    if status == 404:
        raise NotFound(f"{method} {path}: 404 {message}")
    if status == 409:
        raise Conflict(f"{method} {path}: 409 {message}")
    raise ApiException(status=status, reason=f"{method} {path}: {message}")
