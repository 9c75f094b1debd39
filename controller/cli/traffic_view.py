"""`sluice status NAME` for a meshed canary: the mesh's own traffic figures per backend.

The gateway proxy serves them in SMI TrafficMetrics shape (`GET /traffic-metrics` on its admin port,
mesh/proxy/traffic_metrics.py); this reads that document and draws one row per backend (weight, success
and failure counts, latency quantiles). Fetching and drawing are separate so the drawing is tested from a
constructed document, as the rest of status_view is.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import urlencode

from rich.console import RenderableType
from rich.table import Table
from rich.text import Text


def fetch_traffic(
    admin_url: str, namespace: str, name: str, seconds: int = 60, timeout: float = 2.0
) -> dict[str, Any] | None:
    """The TrafficMetricsList of apex `name` from a proxy admin API; None when it has no such service."""
    query = urlencode({"service": name, "namespace": namespace, "seconds": seconds})
    try:
        with urllib.request.urlopen(
            f"{admin_url.rstrip('/')}/traffic-metrics?{query}", timeout=timeout
        ) as reply:
            return json.loads(reply.read())
    except (OSError, ValueError, urllib.error.HTTPError):
        return None


def _values(item: dict[str, Any]) -> dict[str, str]:
    return {metric["name"]: metric.get("value", "") for metric in item.get("metrics") or []}


def traffic_rows(metrics: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per backend: name, weight, counts, success rate (None without requests), quantiles."""
    rows = []
    for item in metrics.get("items") or []:
        values = _values(item)
        success, failure = int(values.get("success_count") or 0), int(values.get("failure_count") or 0)
        total = success + failure
        rows.append(
            {
                "backend": (item.get("backend") or {}).get("name") or item["edge"]["resource"]["name"],
                "weight": (item.get("backend") or {}).get("weight"),
                "success": success,
                "failure": failure,
                "success_rate": round(100.0 * success / total, 2) if total else None,
                **{q: values.get(f"{q}_response_latency") or None for q in ("p50", "p90", "p99")},
            }
        )
    return rows


def traffic_section(metrics: dict[str, Any]) -> list[RenderableType]:
    """A titled table to append to the detail card (empty when the document has no items)."""
    rows = traffic_rows(metrics)
    if not rows:
        return []
    window = (metrics.get("items") or [{}])[0].get("window", "")
    table = Table(box=None, pad_edge=False, header_style="bold")
    for column in ("BACKEND", "WEIGHT", "SUCCESS", "FAILURE", "SUCCESS RATE", "P50", "P90", "P99"):
        table.add_column(column, justify="left" if column == "BACKEND" else "right")
    for row in rows:
        rate = "-" if row["success_rate"] is None else f"{row['success_rate']:g}%"
        table.add_row(
            row["backend"],
            "-" if row["weight"] is None else f"{row['weight']}%",
            str(row["success"]),
            str(row["failure"]),
            rate,
            *("-" if row[q] is None else f"{row[q]} ms" for q in ("p50", "p90", "p99")),
        )
    return [Text(), Text(f"Traffic (mesh, last {window})", style="bold"), table]
