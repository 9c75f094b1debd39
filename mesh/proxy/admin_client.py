"""A small synchronous client of the proxy's admin API, for the local-mode controller and for tests.

Standard library only (urllib), one short-lived request per call: the controller calls it a few times
per rollout step, where simplicity beats connection reuse.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from typing import Any


class AdminError(RuntimeError):
    """The proxy refused a call; `status` is the HTTP status and the message is the proxy's explanation."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"{status}: {message}")
        self.status = status
        self.message = message


class AdminClient:
    def __init__(self, base_url: str = "http://127.0.0.1:9901", timeout: float = 5.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            self.base_url + path, data=data, method=method, headers={"content-type": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                raw = response.read()
        except urllib.error.HTTPError as exc:
            raw = exc.read()
            try:
                message = json.loads(raw).get("error", raw.decode())
            except ValueError:
                message = raw.decode(errors="replace")
            raise AdminError(exc.code, message) from None
        return json.loads(raw) if raw else None

    def healthy(self) -> bool:
        try:
            return self._call("GET", "/healthz").get("status") == "ok"
        except (OSError, AdminError):
            return False

    def get_config(self) -> dict[str, Any]:
        return self._call("GET", "/config")

    def put_config(self, config: dict[str, Any]) -> dict[str, Any]:
        return self._call("PUT", "/config", config)

    def get_routes(self, service: str) -> dict[str, Any]:
        return self._call("GET", f"/services/{service}/routes")

    def set_weights(
        self,
        service: str,
        primary: int,
        canary: int,
        *,
        mirrored: bool = False,
        mirror_weight: int = 100,
        matched: bool = False,
    ) -> dict[str, Any]:
        body = {
            "primary_weight": primary,
            "canary_weight": canary,
            "mirrored": mirrored,
            "mirror_weight": mirror_weight,
            "matched": matched,
        }
        return self._call("PUT", f"/services/{service}/routes", body)

    def window(self, service: str, backend: str, seconds: int) -> dict[str, Any]:
        query = urllib.parse.urlencode({"service": service, "backend": backend, "seconds": seconds})
        return self._call("GET", f"/stats/window?{query}")

    def metrics(self) -> str:
        with urllib.request.urlopen(self.base_url + "/metrics", timeout=self.timeout) as response:
            return response.read().decode()
