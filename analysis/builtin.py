"""The builtin golden signals, `request-success-rate` (%) and `request-duration` (p99, ms).

Flagger hard-codes one PromQL pair per mesh in Go (pkg/metrics/observers). sluice keeps them as Jinja2
files in templates/metrics, named `<flavor>.<metric>.j2`, so they read like the MetricTemplates users
write and are rendered by the same code. The flavor comes from the provider's query dialect (the bundled
proxy's windows in local mode) or, for PromQL, from the mesh in the canary's `spec.provider`. Each flavor
also has a `request-count` query: how many requests the canary got in the window, for the
minimum-traffic guard in analysis/checks.py.
"""

from __future__ import annotations

import functools
from pathlib import Path

from analysis.errors import MetricConfigError
from analysis.queries import query_variables, render
from controller.api.canary import Canary, CanaryMetric

TEMPLATES = Path(__file__).resolve().parent.parent / "templates" / "metrics"

# name -> unit the value is in (used in verdict reasons).
BUILTIN_UNITS = {"request-success-rate": "%", "request-duration": "ms"}
REQUEST_COUNT = "request-count"

_MESH_FLAVORS = {
    "": "sluice",
    "sluice": "sluice",
    "local": "sluice",
    "smi": "sluice",
    "linkerd": "linkerd",
    "istio": "istio",
    "osm": "osm",
    "kubernetes": "http",
    "http": "http",
    "gatewayapi": "http",
}


def is_builtin(name: str) -> bool:
    return name in BUILTIN_UNITS


def flavor(dialect: str, mesh_provider: str | None) -> str:
    """Which template set answers builtins: the dialect itself, or for PromQL the canary's mesh.

    `smi:v1alpha3:linkerd` uses the mesh after the version; `gatewayapi:v1beta1` uses Gateway API's.
    """
    if dialect != "promql":
        return dialect
    parts = (mesh_provider or "").split(":")
    key = parts[-1] if parts[0] == "smi" and len(parts) == 3 else parts[0]
    if key not in _MESH_FLAVORS:
        known = ", ".join(sorted(k for k in _MESH_FLAVORS if k))
        raise MetricConfigError(
            f"spec.provider {mesh_provider!r}: sluice has no builtin request-success-rate/request-duration "
            f"queries for it (it has them for {known}); use a MetricTemplate instead"
        )
    return _MESH_FLAVORS[key]


@functools.lru_cache(maxsize=64)
def _template_text(flavor_name: str, metric_name: str) -> str:
    path = TEMPLATES / f"{flavor_name}.{metric_name}.j2"
    if not path.is_file():
        raise MetricConfigError(f"no builtin {metric_name} query for {flavor_name!r} (missing {path})")
    return path.read_text()


def builtin_query(metric_name: str, canary: Canary, metric: CanaryMetric, dialect: str) -> str:
    """The rendered query for builtin `metric_name` (or REQUEST_COUNT) over `metric`'s interval."""
    flavor_name = flavor(dialect, canary.spec.provider)
    text = _template_text(flavor_name, metric_name)
    return render(text, query_variables(canary, metric), f"builtin {metric_name} ({flavor_name})").strip()
