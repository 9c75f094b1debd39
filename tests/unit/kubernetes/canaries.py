"""Canary documents for the Kubernetes unit tests, built from the wire form a user would apply."""

from __future__ import annotations

from typing import Any

from controller.api.canary import Canary


def canary(
    analysis: dict[str, Any] | None = None, service: dict[str, Any] | None = None, **spec: Any
) -> Canary:
    return Canary.model_validate(
        {
            "apiVersion": "sluice.dev/v1beta1",
            "kind": "Canary",
            "metadata": {"name": "podinfo", "namespace": "test", "uid": "u-1"},
            "spec": {
                "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "podinfo"},
                "service": {"port": 9898, **(service or {})},
                "analysis": analysis or {"interval": "1s", "threshold": 2, "stepWeight": 10},
                **spec,
            },
        }
    )


AB = {
    "interval": "1s",
    "threshold": 2,
    "iterations": 3,
    "match": [
        {"headers": {"x-canary": {"exact": "insider"}}},
        {"headers": {"cookie": {"regex": "^(.*?;)?(type=insider)(;.*)?$"}}},
    ],
}
