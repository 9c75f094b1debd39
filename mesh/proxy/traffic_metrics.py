"""The proxy's windowed stats in SMI TrafficMetrics shape (metrics.smi-spec.io/v1alpha1, mesh.md §1.5).

SMI defines TrafficMetrics as instantaneous values over a window, per resource and edge, with counts
rather than rates, and for a TrafficSplit one item per backend carrying `backend{apex, name, weight}`.
A gateway proxy sees exactly those edges (itself -> each backend of an apex), so each routed service is
reported as the TrafficSplit of its apex, read from the same per-second windows `sluice run` analyses.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from mesh.proxy.config import Service
from mesh.proxy.windows import Windows

API_VERSION = "metrics.smi-spec.io/v1alpha1"


def _metric(name: str, value: float | int | None, unit: str = "") -> dict[str, Any]:
    entry: dict[str, Any] = {"name": name, "value": "" if value is None else str(value)}
    if unit:
        entry["unit"] = unit
    return entry


def split_metrics(
    service: Service, windows: Windows, seconds: int, now_second: int | None = None
) -> list[dict[str, Any]]:
    """One TrafficMetrics item per backend of `service` (the edge gateway -> backend)."""
    now_second = int(time.perf_counter()) if now_second is None else now_second  # the data plane's clock
    total = sum(service.split.values()) or 1
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    items = []
    for backend in service.backends:
        summary = windows.window(service.namespace, service.name, backend).summary(now_second, seconds)
        latency = summary["latency_ms"] or {}
        items.append(
            {
                "kind": "TrafficMetrics",
                "apiVersion": API_VERSION,
                "resource": {"kind": "TrafficSplit", "namespace": service.namespace, "name": service.name},
                "edge": {
                    "direction": "to",
                    "side": "client",
                    "resource": {"kind": "Service", "namespace": service.namespace, "name": backend},
                },
                "backend": {
                    "apex": service.name,
                    "name": backend,
                    "weight": round(100 * service.split.get(backend, 0) / total),
                },
                "timestamp": stamp,
                "window": f"{seconds}s",
                "metrics": [
                    _metric("p99_response_latency", latency.get("p99"), "ms"),
                    _metric("p90_response_latency", latency.get("p90"), "ms"),
                    _metric("p50_response_latency", latency.get("p50"), "ms"),
                    _metric("success_count", summary["requests"] - summary["errors"]),
                    _metric("failure_count", summary["errors"]),
                ],
            }
        )
    return items


def traffic_metrics_list(services: list[Service], windows: Windows, seconds: int) -> dict[str, Any]:
    return {
        "kind": "TrafficMetricsList",
        "apiVersion": API_VERSION,
        "resource": {"kind": "TrafficSplit"},
        "items": [item for service in services for item in split_metrics(service, windows, seconds)],
    }
