"""A notification problem never reaches the rollout: a lookup that raises is logged and counted."""

from __future__ import annotations

import pytest
from prometheus_client import REGISTRY

from controller.api.canary import Canary
from controller.notify.dispatcher import Dispatcher
from controller.notify.queue import DeliveryQueue


def test_a_failing_provider_lookup_is_counted_not_raised(caplog: pytest.LogCaptureFixture) -> None:
    def lookup(namespace: str, name: str):
        raise ConnectionError("apiserver unreachable")

    canary = Canary.model_validate(
        {
            "metadata": {"name": "podinfo", "namespace": "test"},
            "spec": {
                "targetRef": {"kind": "Deployment", "name": "podinfo"},
                "service": {"port": 80},
                "analysis": {
                    "interval": "1m",
                    "threshold": 2,
                    "stepWeight": 10,
                    "alerts": [{"name": "a", "providerRef": {"name": "chat"}}],
                },
            },
        }
    )
    labels = {"provider": "unknown", "outcome": "failed"}
    before = REGISTRY.get_sample_value("sluice_notifications_total", labels) or 0
    queue = DeliveryQueue()
    assert Dispatcher(queue, lookup).notify(canary, "error", "boom") == 0
    assert queue.pending() == 0
    assert REGISTRY.get_sample_value("sluice_notifications_total", labels) - before == 1
    assert "apiserver unreachable" in caplog.text
