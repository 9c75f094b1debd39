"""Sliding-window stats per (service, backend): the metrics source of local rollouts, without Prometheus.

Each second gets one small bucket (request and error counts, a sparse log-scale latency histogram), so
recording is a few integer bumps and a window of N seconds is the sum of at most N buckets. Quantiles are
read off the histogram, whose bounds grow by 10%: a quantile is off by at most one bucket's width.
"""

from __future__ import annotations

import math
from collections import deque
from typing import Any

from mesh.proxy.metrics import bucket_of

KEEP_SECONDS = 3600
_GROWTH = 1.1
# Latency bucket upper bounds in milliseconds, 0.05 ms .. ~2 minutes.
BOUNDS_MS = tuple(0.05 * _GROWTH**i for i in range(int(math.log(120_000 / 0.05, _GROWTH)) + 2))


class _Second:
    def __init__(self, second: int) -> None:
        self.second = second
        self.requests = 0
        self.errors = 0
        self.latency: dict[int, int] = {}
        self.latency_total = 0.0  # milliseconds, for the per-second mean of /stats/series


class Window:
    def __init__(self) -> None:
        self.seconds: deque[_Second] = deque()
        self.current: _Second | None = None

    def record(self, second: int, latency_ms: float, error: bool) -> None:
        current = self.current
        if current is None or current.second != second:
            current = self.current = _Second(second)
            self.seconds.append(current)
            while self.seconds[0].second <= second - KEEP_SECONDS:
                self.seconds.popleft()
        current.requests += 1
        if error:
            current.errors += 1
        index = bucket_of(BOUNDS_MS, latency_ms)
        latency = current.latency
        latency[index] = latency.get(index, 0) + 1
        current.latency_total += latency_ms

    def summary(self, now_second: int, seconds: int) -> dict[str, Any]:
        requests = errors = 0
        merged: dict[int, int] = {}
        oldest = now_second - seconds
        for bucket in reversed(self.seconds):
            if bucket.second <= oldest:
                break
            if bucket.second > now_second:
                continue
            requests += bucket.requests
            errors += bucket.errors
            for index, count in bucket.latency.items():
                merged[index] = merged.get(index, 0) + count
        if not requests:
            return {"requests": 0, "errors": 0, "success_rate": None, "latency_ms": None}
        return {
            "requests": requests,
            "errors": errors,
            "success_rate": round(100.0 * (requests - errors) / requests, 4),
            "latency_ms": {
                name: _quantile(merged, requests, q)
                for name, q in (("p50", 0.5), ("p90", 0.9), ("p99", 0.99))
            },
        }

    def series(self, now_second: int, seconds: int) -> list[dict[str, Any]]:
        """One entry per second of the last `seconds` that saw requests, oldest first: the samples the
        canary-vs-primary judge compares (analysis/judge.py). `t` is seconds before `now_second`
        (0 = the current, still filling second), so callers need not share the data plane's clock."""
        oldest = now_second - seconds
        picked = []
        for bucket in reversed(self.seconds):
            if bucket.second <= oldest:
                break
            if bucket.second <= now_second and bucket.requests:
                picked.append(bucket)
        return [
            {
                "t": bucket.second - now_second,
                "requests": bucket.requests,
                "errors": bucket.errors,
                "success_rate": round(100.0 * (bucket.requests - bucket.errors) / bucket.requests, 4),
                "latency_ms_p50": _quantile(bucket.latency, bucket.requests, 0.5),
                "latency_ms_mean": round(bucket.latency_total / bucket.requests, 3),
            }
            for bucket in reversed(picked)
        ]


def _quantile(histogram: dict[int, int], total: int, q: float) -> float:
    rank = q * total
    running = 0
    for index in sorted(histogram):
        running += histogram[index]
        if running >= rank:
            return round(BOUNDS_MS[min(index, len(BOUNDS_MS) - 1)], 3)
    return round(BOUNDS_MS[-1], 3)


class Windows:
    """All windows of the process, keyed by (namespace, service, backend); they survive config changes."""

    def __init__(self) -> None:
        self.table: dict[tuple[str, str, str], Window] = {}

    def window(self, namespace: str, service: str, backend: str) -> Window:
        return self.table.setdefault((namespace, service, backend), Window())
