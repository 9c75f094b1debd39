"""Local mode's metric provider: the bundled proxy's own windowed stats, no Prometheus needed.

The proxy admin port answers `GET /stats/window?service=S&backend=B&seconds=N` with the requests, errors,
success rate and latency percentiles of one backend over the last N seconds. This provider speaks a tiny
query language over it, one line per query, which the builtin templates (templates/metrics/proxy-window.*)
produce: `<stat> service=<S> backend=<B> window=<duration>`, where stat is one of request-success-rate
(percent), request-duration (p99, ms) or request-count.

For the canary-vs-primary judge, `samples` reads `GET /stats/series` instead: the per-second buckets of
the same window, one sample per `step` seconds that saw requests (a step's success rate from its counts,
its duration the median of its seconds' p50s: a per-second p99 is too noisy to compare).
"""

from __future__ import annotations

import math
import statistics
from typing import Any

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

    def samples(self, text: str, seconds: int, step: int = 1) -> list[float]:
        """One value of `text`'s stat per `step` seconds of the last `seconds` that saw requests, oldest
        first; the query's own `window` is ignored (the window is `seconds`). Empty for an unknown backend."""
        stat, service, backend, _ = _parse(text)
        params = {"service": service, "backend": backend, "seconds": seconds}
        answer = self._get_json("/stats/series", params)
        if answer is None:
            return []
        groups: dict[int, list[dict[str, Any]]] = {}
        for bucket in answer.get("buckets", []):
            # steps counted back from now (t <= 0), so the newest step is whole seconds too
            groups.setdefault(-int(bucket["t"]) // max(1, step), []).append(bucket)
        return [_step_value(stat, groups[key]) for key in sorted(groups, reverse=True)]

    def is_online(self) -> bool:
        """The admin port answers a window query; "unknown service" (404) is an answer too."""
        params = {"service": "-", "backend": "-", "seconds": 1}
        try:
            response = httpx.get(f"{self.admin_url}/stats/window", params=params, timeout=self._timeout)
        except httpx.HTTPError:
            return False
        return response.status_code < 500

    def _get(self, service: str, backend: str, seconds: int) -> dict | None:
        return self._get_json("/stats/window", {"service": service, "backend": backend, "seconds": seconds})

    def _get_json(self, path: str, params: dict[str, str | int]) -> dict | None:
        """The admin's JSON answer, None on 404 (unknown service or backend), ProviderError otherwise."""
        url = f"{self.admin_url}{path}"
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


def _step_value(stat: str, buckets: list[dict[str, Any]]) -> float:
    requests = sum(int(b["requests"]) for b in buckets)
    if stat == "request-count":
        return float(requests)
    if stat == "request-success-rate":
        return 100.0 * (requests - sum(int(b["errors"]) for b in buckets)) / requests
    return float(statistics.median(float(b["latency_ms_p50"]) for b in buckets))
