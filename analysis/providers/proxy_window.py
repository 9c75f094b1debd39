"""Local mode's metric provider: the bundled proxy's own windowed stats, no Prometheus needed.

The proxy admin port answers `GET /stats/window?service=S&backend=B&seconds=N` with the requests, errors,
success rate and latency percentiles of one backend over the last N seconds. This provider speaks a tiny
query language over it, one line per query, which the builtin templates (templates/metrics/proxy-window.*)
produce: `<stat> service=<S> backend=<B> window=<duration>`, where stat is one of request-success-rate
(percent), request-duration (p99, ms) or request-count.
"""

from __future__ import annotations

import math

import httpx

from analysis.providers.base import NoValues, ProviderError
from controller.api.durations import parse_duration

STATS = ("request-success-rate", "request-duration", "request-count")


class ProxyWindowProvider:
    dialect = "proxy-window"

    def __init__(self, admin_url: str, timeout: float = 2.0) -> None:
        self.admin_url = admin_url.rstrip("/")
        self._timeout = timeout

    def query(self, text: str) -> float:
        stat, service, backend, seconds = _parse(text)
        window = self._get(service, backend, seconds)
        if window is None:
            raise NoValues(f"the proxy knows no backend {backend!r} of service {service!r}")
        if stat == "request-count":
            return float(window["requests"])
        if stat == "request-success-rate":
            value = window.get("success_rate")
        else:
            value = (window.get("latency_ms") or {}).get("p99")
        if value is None or math.isnan(float(value)):
            raise NoValues(f"no requests to {backend} in the last {seconds}s")
        return float(value)

    def is_online(self) -> bool:
        """The admin port answers a window query; "unknown service" (404) is an answer too."""
        params = {"service": "-", "backend": "-", "seconds": 1}
        try:
            response = httpx.get(f"{self.admin_url}/stats/window", params=params, timeout=self._timeout)
        except httpx.HTTPError:
            return False
        return response.status_code < 500

    def _get(self, service: str, backend: str, seconds: int) -> dict | None:
        url = f"{self.admin_url}/stats/window"
        params = {"service": service, "backend": backend, "seconds": seconds}
        try:
            response = httpx.get(url, params=params, timeout=self._timeout)
        except httpx.HTTPError as exc:
            reason = f"{type(exc).__name__}: {exc}"
            raise ProviderError(f"proxy admin {self.admin_url} unreachable: {reason}") from None
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise ProviderError(f"proxy admin {url} answered {response.status_code}: {response.text[:200]}")
        try:
            return response.json()
        except ValueError:
            raise ProviderError(f"proxy admin {url} answered non-JSON: {response.text[:200]!r}") from None


def _parse(text: str) -> tuple[str, str, str, int]:
    stat, *pairs = text.split() or [""]
    fields = dict(pair.split("=", 1) for pair in pairs if "=" in pair)
    missing = [key for key in ("service", "backend", "window") if key not in fields]
    if stat not in STATS or missing or len(fields) != len(pairs):
        raise ProviderError(
            f"proxy-window query {text!r}: expected '<{'|'.join(STATS)}> service=S backend=B window=1m'"
        )
    try:
        seconds = max(1, math.ceil(parse_duration(fields["window"])))
    except ValueError as exc:
        raise ProviderError(f"proxy-window query {text!r}: window: {exc}") from None
    return stat, fields["service"], fields["backend"], seconds
