"""The controller's own Prometheus metrics (Flagger's set under the `sluice_` prefix, reference §1.13).

Kept in one registry object so tests and several controllers in one process do not collide.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from controller import __version__

# 0 = progressing, 1 = anything else (steady), 2 = failed; alert on `sluice_canary_status > 1`.
_STATUS_CODE = {"Progressing": 0, "Failed": 2}


class ControllerMetrics:
    def __init__(self, mesh_provider: str = "", registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.info = Gauge("sluice_info", "sluice version", ["version", "mesh_provider"], registry=r)
        self.info.labels(__version__, mesh_provider).set(1)
        self.canary_total = Gauge("sluice_canary_total", "Canaries per namespace", ["namespace"], registry=r)
        self.status = Gauge(
            "sluice_canary_status", "0 progressing, 1 steady, 2 failed", ["name", "namespace"], registry=r
        )
        self.weight = Gauge(
            "sluice_canary_weight", "Live traffic weight per workload", ["workload", "namespace"], registry=r
        )
        self.duration = Histogram(
            "sluice_canary_duration_seconds", "Time spent in one tick", ["name", "namespace"], registry=r
        )
        self.metric_analysis = Gauge(
            "sluice_canary_metric_analysis",
            "Last value of each metric check",
            ["name", "namespace", "metric"],
            registry=r,
        )
        labels = ["name", "namespace", "deployment_strategy", "analysis_status"]
        self.successes = Counter("sluice_canary_successes_total", "Promotions", labels, registry=r)
        self.failures = Counter("sluice_canary_failures_total", "Rollbacks", labels, registry=r)

    def set_phase(self, name: str, namespace: str, phase: str) -> None:
        self.status.labels(name, namespace).set(_STATUS_CODE.get(phase, 1))

    def set_weights(self, target: str, namespace: str, primary: int, canary: int) -> None:
        self.weight.labels(f"{target}-primary", namespace).set(primary)
        self.weight.labels(target, namespace).set(canary)
