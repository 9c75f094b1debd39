"""Valid manifests as dicts, for tests to break one field at a time."""

from __future__ import annotations

import copy
from typing import Any

CANARY: dict[str, Any] = {
    "apiVersion": "sluice.dev/v1beta1",
    "kind": "Canary",
    "metadata": {"name": "podinfo", "namespace": "test"},
    "spec": {
        "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "podinfo"},
        "service": {"port": 9898},
        "analysis": {"interval": "1m", "threshold": 5, "maxWeight": 50, "stepWeight": 10},
    },
}


def canary(spec: dict[str, Any] | None = None, **analysis: Any) -> dict[str, Any]:
    """The valid canary above with `spec` keys and `analysis` keys replaced (None removes a key)."""
    document = copy.deepcopy(CANARY)
    for target, changes in ((document["spec"], spec or {}), (document["spec"]["analysis"], analysis)):
        for key, value in changes.items():
            if value is None:
                target.pop(key, None)
            else:
                target[key] = value
    return document
