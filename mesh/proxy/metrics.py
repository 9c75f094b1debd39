"""Prometheus golden signals, aggregated in plain objects on the hot path and rendered on scrape.

prometheus_client costs 1.2-3.4 µs per request (mesh.md §5.2); here the data plane holds a reference to
its (service, backend, route) cell, bumps integers in it, and the text format is produced only when
/metrics is read. Cells outlive config changes, so counters never reset while the process runs.
"""

from __future__ import annotations

LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
STATUS_CLASSES = ("1xx", "2xx", "3xx", "4xx", "5xx")
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def bucket_of(bounds: tuple[float, ...], value: float) -> int:
    """bisect_left over sorted float bounds, typed for the compiled build (no boxing, no call per step)."""
    low, high = 0, len(bounds)
    while low < high:
        middle = (low + high) // 2
        bound = bounds[middle]
        if bound < value:
            low = middle + 1
        else:
            high = middle
    return low


class RouteCell:
    """Counters of one (namespace, service, backend, route)."""

    def __init__(self) -> None:
        self.by_class = [0] * 6  # indexed by status // 100; odd statuses >= 600 count as 5xx
        self.buckets = [0] * (len(LATENCY_BUCKETS) + 1)
        self.total_seconds = 0.0
        self.retries = 0

    def observe(self, status: int, seconds: float) -> None:
        self.by_class[status // 100 if status < 600 else 5] += 1
        self.buckets[bucket_of(LATENCY_BUCKETS, seconds)] += 1
        self.total_seconds += seconds

    @property
    def count(self) -> int:
        return sum(self.by_class)


class Gauge:
    def __init__(self) -> None:
        self.value = 0


Labels = tuple[tuple[str, str], ...]


def _labels(labels: Labels) -> str:
    inner = ",".join(f'{name}="{_escape(value)}"' for name, value in labels)
    return "{" + inner + "}"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


class Metrics:
    def __init__(self) -> None:
        self.routes: dict[Labels, RouteCell] = {}
        self.in_flight: dict[Labels, Gauge] = {}
        self.ejections: dict[Labels, Gauge] = {}
        self.mirrored: dict[Labels, Gauge] = {}
        self.denied: dict[Labels, Gauge] = {}
        # The mesh certificate (mTLS only): when it ends, and how often it has been renewed.
        self.certificate_expiry: float | None = None
        self.certificate_renewals = 0

    def route(self, namespace: str, service: str, backend: str, route: str) -> RouteCell:
        key = (("namespace", namespace), ("service", service), ("backend", backend), ("route", route))
        return self.routes.setdefault(key, RouteCell())

    @staticmethod
    def _gauge(table: dict[Labels, Gauge], key: Labels) -> Gauge:
        return table.setdefault(key, Gauge())

    def in_flight_gauge(self, namespace: str, service: str) -> Gauge:
        return self._gauge(self.in_flight, (("namespace", namespace), ("service", service)))

    def ejection_counter(self, namespace: str, service: str, backend: str, endpoint: str) -> Gauge:
        key = (("namespace", namespace), ("service", service), ("backend", backend), ("endpoint", endpoint))
        return self._gauge(self.ejections, key)

    def mirror_counter(self, namespace: str, service: str, backend: str) -> Gauge:
        return self._gauge(
            self.mirrored, (("namespace", namespace), ("service", service), ("backend", backend))
        )

    def denied_counter(self, namespace: str, service: str, source: str) -> Gauge:
        return self._gauge(self.denied, (("namespace", namespace), ("service", service), ("source", source)))

    def render(self) -> bytes:
        out: list[str] = []
        routes = sorted(self.routes.items())
        out += [
            "# HELP sluice_proxy_requests_total Requests answered, by status class.",
            "# TYPE sluice_proxy_requests_total counter",
        ]
        for labels, cell in routes:
            for status_class, value in zip(STATUS_CLASSES, cell.by_class[1:], strict=True):
                if value:
                    with_class = _labels((*labels, ("status_class", status_class)))
                    out.append(f"sluice_proxy_requests_total{with_class} {value}")
        out += [
            "# HELP sluice_proxy_request_duration_seconds Time from request head to response end.",
            "# TYPE sluice_proxy_request_duration_seconds histogram",
        ]
        for labels, cell in routes:
            running = 0
            for bound, value in zip((*LATENCY_BUCKETS, "+Inf"), cell.buckets, strict=True):
                running += value
                le = bound if isinstance(bound, str) else repr(bound)
                out.append(
                    f"sluice_proxy_request_duration_seconds_bucket{_labels((*labels, ('le', le)))} {running}"
                )
            out.append(f"sluice_proxy_request_duration_seconds_sum{_labels(labels)} {cell.total_seconds!r}")
            out.append(f"sluice_proxy_request_duration_seconds_count{_labels(labels)} {cell.count}")
        out += [
            "# HELP sluice_proxy_retries_total Upstream attempts beyond the first.",
            "# TYPE sluice_proxy_retries_total counter",
        ]
        out += [f"sluice_proxy_retries_total{_labels(labels)} {cell.retries}" for labels, cell in routes]
        for name, kind, help_text, table in (
            ("sluice_proxy_requests_in_flight", "gauge", "Requests being proxied now.", self.in_flight),
            ("sluice_proxy_ejections_total", "counter", "Endpoints ejected as outliers.", self.ejections),
            (
                "sluice_proxy_mirrored_requests_total",
                "counter",
                "Requests copied to a mirror.",
                self.mirrored,
            ),
            (
                "sluice_proxy_denied_requests_total",
                "counter",
                "Requests refused by TrafficTarget access control (403).",
                self.denied,
            ),
        ):
            out += [f"# HELP {name} {help_text}", f"# TYPE {name} {kind}"]
            out += [f"{name}{_labels(labels)} {gauge.value}" for labels, gauge in sorted(table.items())]
        if self.certificate_expiry is not None:
            out += [
                "# HELP sluice_proxy_certificate_expiry_timestamp_seconds When the mesh certificate ends.",
                "# TYPE sluice_proxy_certificate_expiry_timestamp_seconds gauge",
                f"sluice_proxy_certificate_expiry_timestamp_seconds {self.certificate_expiry!r}",
                "# HELP sluice_proxy_certificate_renewals_total Mesh certificates installed after the first.",
                "# TYPE sluice_proxy_certificate_renewals_total counter",
                f"sluice_proxy_certificate_renewals_total {self.certificate_renewals}",
            ]
        out.append("")
        return "\n".join(out).encode()
