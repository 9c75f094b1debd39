"""A canary's alerts, end to end: scripted rollouts through the Dispatcher and the DeliveryQueue reach
each alert provider (real HTTP receivers) with exactly the messages its severity filter lets through."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from prometheus_client import REGISTRY

from controller.api.alert_provider import AlertProvider
from controller.api.canary import Canary
from controller.api.status import CanaryStatus
from controller.notify.dispatcher import Dispatcher
from controller.notify.endpoint import Endpoint
from controller.notify.queue import DeliveryQueue, RetryPolicy
from tests.integration.notify.receiver import Receiver

PROMOTE = [
    ("rev0", "Initialized", 0, "info", "New Deployment detected, initialization completed."),
    ("rev1", "Progressing", 0, "info", "New revision detected, progressing canary analysis."),
    ("rev1", "Progressing", 20, "warn", "Halt advancement: request-success-rate 91.2 < 99"),
    ("rev1", "WaitingPromotion", 50, "warn", "Canary promotion is waiting for approval."),
    (
        "rev1",
        "WaitingPromotion",
        50,
        "warn",
        "Canary promotion is waiting for approval.",
    ),  # next tick: same state
    ("rev1", "Succeeded", 0, "info", "Canary analysis completed successfully, promotion finished."),
]
ROLLBACK = [
    ("rev2", "Progressing", 0, "info", "New revision detected, progressing canary analysis."),
    ("rev2", "Progressing", 10, "warn", "Halt advancement: request-duration 812 > 500"),
    ("rev2", "Failed", 0, "error", "Canary analysis failed, Failed checks threshold reached 2"),
    ("rev2", "Failed", 0, "error", "Canary analysis failed, Failed checks threshold reached 2"),  # repeated
]


def canary(alerts: list[dict] | None) -> Canary:
    analysis = {"interval": "10s", "threshold": 2, "stepWeight": 10, "maxWeight": 50}
    if alerts is not None:
        analysis["alerts"] = alerts
    return Canary.model_validate(
        {
            "metadata": {"name": "podinfo", "namespace": "test"},
            "spec": {
                "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "podinfo"},
                "service": {"port": 9898},
                "analysis": analysis,
            },
        }
    )


def with_status(c: Canary, revision: str, phase: str, weight: int) -> Canary:
    status = CanaryStatus(phase=phase, canary_weight=weight, last_applied_spec=revision)
    return c.model_copy(update={"status": status})


def hook(name: str, namespace: str, url: str) -> AlertProvider:
    return AlertProvider.model_validate(
        {"metadata": {"name": name, "namespace": namespace}, "spec": {"type": "webhook", "address": url}}
    )


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as r:
        yield r


@pytest.fixture
def queue() -> Iterator[DeliveryQueue]:
    q = DeliveryQueue(policy=RetryPolicy(attempts=2, backoff=0.01))
    q.start()
    yield q
    q.stop()


def play(dispatcher: Dispatcher, c: Canary, script: list[tuple]) -> None:
    for revision, phase, weight, severity, message in script:
        dispatcher.notify(with_status(c, revision, phase, weight), severity, message)


def by_path(receiver: Receiver) -> dict[str, list[tuple[str, str, int]]]:
    seen: dict[str, list[tuple[str, str, int]]] = {}
    for r in receiver.received():
        body = r.json()
        seen.setdefault(r.path, []).append((body["severity"], body["message"], body["weights"]["canary"]))
    return seen


def expected(script: list[tuple], severities: set[str]) -> list[tuple[str, str, int]]:
    out: list[tuple[str, str, int]] = []
    for _, _, weight, severity, message in script:
        if severity in severities and (not out or out[-1] != (severity, message, weight)):
            out.append((severity, message, weight))
    return out


def test_promotion_and_rollback_reach_each_alert_exactly_per_its_severity(receiver, queue) -> None:
    providers = {
        ("test", "everything"): hook("everything", "test", f"{receiver.url}/info"),
        ("ops", "pager"): hook("pager", "ops", f"{receiver.url}/warn"),
        ("test", "incidents"): hook("incidents", "test", f"{receiver.url}/error"),
    }
    alerts = [
        {"name": "all", "severity": "info", "providerRef": {"name": "everything"}},
        {"name": "ops", "severity": "warn", "providerRef": {"name": "pager", "namespace": "ops"}},
        {"name": "incidents", "severity": "error", "providerRef": {"name": "incidents"}},
    ]
    dispatcher = Dispatcher(queue, lambda ns, name: providers.get((ns, name)), cluster="prod")
    c = canary(alerts)
    play(dispatcher, c, PROMOTE)
    play(dispatcher, c, ROLLBACK)
    assert queue.flush(timeout=10)

    seen = by_path(receiver)
    script = PROMOTE + ROLLBACK
    assert seen["/info"] == expected(script, {"info", "warn", "error"})
    assert seen["/warn"] == expected(script, {"warn", "error"})
    assert seen["/error"] == expected(script, {"error"})
    assert len(seen["/info"]) == 8 and len(seen["/warn"]) == 4 and len(seen["/error"]) == 1
    first = receiver.received()[0].json()
    assert first["cluster"] == "prod"
    assert first["target"] == "Deployment/podinfo.test"
    assert first["phase"] == "Initialized"


def test_the_same_state_is_announced_once_but_a_new_rollout_may_repeat_a_message(receiver, queue) -> None:
    providers = {("test", "all"): hook("all", "test", f"{receiver.url}/all")}
    alerts = [{"name": "all", "providerRef": {"name": "all"}}]
    dispatcher = Dispatcher(queue, lambda ns, name: providers.get((ns, name)))
    c = canary(alerts)
    before = REGISTRY.get_sample_value(
        "sluice_notifications_total", {"provider": "webhook", "outcome": "duplicate"}
    )
    for _ in range(3):
        dispatcher.notify(
            with_status(c, "rev1", "Progressing", 50), "info", "Advance podinfo.test canary weight 50"
        )
    dispatcher.notify(with_status(c, "rev1", "Succeeded", 0), "info", "promotion finished")
    dispatcher.notify(
        with_status(c, "rev2", "Progressing", 50), "info", "Advance podinfo.test canary weight 50"
    )
    assert queue.flush(timeout=10)
    assert [r.json()["message"] for r in receiver.received()] == [
        "Advance podinfo.test canary weight 50",
        "promotion finished",
        "Advance podinfo.test canary weight 50",
    ]
    after = REGISTRY.get_sample_value(
        "sluice_notifications_total", {"provider": "webhook", "outcome": "duplicate"}
    )
    assert after - (before or 0) == 2


def test_a_canary_without_alerts_goes_to_the_default_provider(receiver, queue) -> None:
    default = Endpoint(type="webhook", name="default", address=f"{receiver.url}/default")
    dispatcher = Dispatcher(queue, lambda ns, name: None, defaults=[default])
    assert dispatcher.notify(with_status(canary(None), "r", "Progressing", 0), "info", "hello") == 1
    assert queue.flush(timeout=10)
    assert [r.path for r in receiver.received()] == ["/default"]


def test_a_missing_or_broken_provider_is_counted_and_the_others_still_get_the_message(
    receiver, queue
) -> None:
    broken = AlertProvider.model_validate(
        {"metadata": {"name": "broken", "namespace": "test"}, "spec": {"type": "msteams"}}
    )
    providers = {("test", "ok"): hook("ok", "test", f"{receiver.url}/ok"), ("test", "broken"): broken}
    alerts = [
        {"name": "gone", "providerRef": {"name": "gone"}},
        {"name": "broken", "providerRef": {"name": "broken"}},
        {"name": "ok", "providerRef": {"name": "ok"}},
    ]
    labels = {"provider": "msteams", "outcome": "misconfigured"}
    before = REGISTRY.get_sample_value("sluice_notifications_total", labels) or 0
    dispatcher = Dispatcher(queue, lambda ns, name: providers.get((ns, name)))
    assert dispatcher.notify(with_status(canary(alerts), "r", "Progressing", 0), "error", "boom") == 1
    assert queue.flush(timeout=10)
    assert [r.path for r in receiver.received()] == ["/ok"]
    assert REGISTRY.get_sample_value("sluice_notifications_total", labels) - before == 1
