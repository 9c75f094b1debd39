"""The manifests `sluice demo` applies: a Workload running examples/app and a Canary per strategy.

Intervals are short (2 s) so a demo finishes in about a minute; everything else is what a user would
write: the same kinds and fields as in examples/local/.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Literal

Strategy = Literal["canary", "ab", "bluegreen", "mirror"]
STRATEGIES: tuple[Strategy, ...] = ("canary", "ab", "bluegreen", "mirror")
APP = Path(__file__).resolve().parents[2] / "examples" / "app" / "app.py"
AB_HEADER = "x-canary"
AB_VALUE = "insider"


def workload(version: str, error_rate: float = 0.0) -> dict[str, Any]:
    args = ["--port", "{port}", "--version", version]
    if error_rate:
        args += ["--error-rate", str(error_rate)]
    return {
        "apiVersion": "sluice.dev/v1beta1",
        "kind": "Workload",
        "metadata": {"name": "podinfo"},
        "spec": {
            "replicas": 2,
            "command": [sys.executable, str(APP)],
            "args": args,
            "readinessProbe": {"httpGet": {"path": "/healthz"}, "periodSeconds": 1, "failureThreshold": 3},
        },
    }


def canary(strategy: Strategy, port: int) -> dict[str, Any]:
    metrics = [
        {"name": "request-success-rate", "interval": "4s", "thresholdRange": {"min": 99}},
        {"name": "request-duration", "interval": "4s", "thresholdRange": {"max": 500}},
    ]
    analysis: dict[str, Any] = {"interval": "2s", "threshold": 2, "metrics": metrics}
    if strategy == "canary":
        analysis |= {"stepWeight": 25, "maxWeight": 75}
    elif strategy == "mirror":
        analysis |= {"stepWeight": 25, "maxWeight": 75, "mirror": True}
    elif strategy == "ab":
        analysis |= {"iterations": 4, "match": [{"headers": {AB_HEADER: {"exact": AB_VALUE}}}]}
    else:
        analysis |= {"iterations": 4, "mirror": True}
    return {
        "apiVersion": "sluice.dev/v1beta1",
        "kind": "Canary",
        "metadata": {"name": "podinfo"},
        "spec": {
            "targetRef": {"apiVersion": "sluice.dev/v1beta1", "kind": "Workload", "name": "podinfo"},
            "progressDeadlineSeconds": 30,
            "service": {"port": port},
            "analysis": analysis,
        },
    }
