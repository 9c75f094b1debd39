"""Canary and MetricTemplate objects for the analysis tests, written as users write manifests."""

from __future__ import annotations

from typing import Any

from controller.api.canary import Canary
from controller.api.metric_template import MetricTemplate


def canary(
    metrics: list[dict[str, Any]], provider: str | None = None, name: str = "podinfo", **spec: Any
) -> Canary:
    """Canary `name` in namespace test, targeting Deployment `name` (so its apex service is `name` too)."""
    body: dict[str, Any] = {
        "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": name},
        "service": {"port": 9898},
        "analysis": {"interval": "1m", "threshold": 5, "stepWeight": 10, "maxWeight": 50, "metrics": metrics},
        **spec,
    }
    if provider is not None:
        body["provider"] = provider
    return Canary.model_validate({"metadata": {"name": name, "namespace": "test"}, "spec": body})


def template(name: str, query: str, namespace: str = "test", **provider: Any) -> MetricTemplate:
    return MetricTemplate.model_validate(
        {
            "metadata": {"name": name, "namespace": namespace},
            "spec": {
                "provider": {"type": "prometheus", "address": "http://127.0.0.1:1", **provider},
                "query": query,
            },
        }
    )
