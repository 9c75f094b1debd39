"""The delivery queue against real receivers: retries honour Retry-After, a dead service costs the caller
nothing, a full queue drops the oldest message, and every outcome is counted."""

from __future__ import annotations

import time

from prometheus_client import REGISTRY

from controller.notify.endpoint import Endpoint
from controller.notify.queue import DeliveryQueue, RetryPolicy
from controller.notify.webhook import WebhookNotifier
from controller.ports.notifier import Notification
from tests.harness.poll import wait_until
from tests.integration.notify.receiver import Receiver, Script, Silent

FAST = RetryPolicy(attempts=4, backoff=0.01, max_backoff=0.05, max_retry_after=2.0)


def note(message: str) -> Notification:
    return Notification(
        canary="podinfo", namespace="test", phase="Progressing", severity="info", message=message
    )


def counted(outcome: str, provider: str = "webhook") -> float:
    value = REGISTRY.get_sample_value(
        "sluice_notifications_total", {"provider": provider, "outcome": outcome}
    )
    return value or 0.0


def webhook(url: str, timeout: float = 5.0) -> WebhookNotifier:
    return WebhookNotifier(Endpoint(type="webhook", name="test/hook", address=url), timeout=timeout)


def test_retries_429_honouring_retry_after_then_500_then_delivers() -> None:
    script = Script((429, {"Retry-After": "1"}, "slow down"), (500, {}, "oops"), (200, {}, "ok"))
    before = {outcome: counted(outcome) for outcome in ("sent", "retried", "failed")}
    queue = DeliveryQueue(policy=FAST)
    queue.start()
    try:
        with Receiver(script) as receiver:
            queue.enqueue(webhook(f"{receiver.url}/hook"), note("hello"))
            wait_until(lambda: len(receiver.received()) == 3, timeout=10, what="three attempts")
            assert queue.flush(timeout=5)
            first, second, third = receiver.received()
    finally:
        queue.stop()
    assert second.at - first.at >= 1.0  # Retry-After: 1 was honoured
    assert third.at - second.at < 0.9  # the 500 got the (short) exponential backoff, not Retry-After
    assert first.body == second.body == third.body
    assert counted("retried") - before["retried"] == 2
    assert counted("sent") - before["sent"] == 1
    assert counted("failed") == before["failed"]


def test_gives_up_after_the_last_attempt_and_does_not_retry_a_4xx() -> None:
    before = counted("failed")
    queue = DeliveryQueue(policy=RetryPolicy(attempts=3, backoff=0.01))
    queue.start()
    try:
        with Receiver(Script((503, {}, "down"))) as down, Receiver(Script((400, {}, "bad"))) as bad:
            queue.enqueue(webhook(f"{down.url}/hook"), note("a"))
            queue.enqueue(webhook(f"{bad.url}/hook"), note("b"))
            assert queue.flush(timeout=5)
            assert len(down.received()) == 3
            assert len(bad.received()) == 1
    finally:
        queue.stop()
    assert counted("failed") - before == 2


def test_a_service_that_never_answers_does_not_slow_enqueueing() -> None:
    queue = DeliveryQueue(maxsize=10, policy=RetryPolicy(attempts=1))
    queue.start()
    dropped_before = counted("dropped")
    try:
        with Silent() as silent:
            notifier = webhook(f"{silent.url}/hook", timeout=5.0)
            queue.enqueue(notifier, note("first"))
            wait_until(lambda: queue.in_flight(), timeout=5, what="worker stuck posting")
            started = time.monotonic()
            for i in range(200):
                queue.enqueue(notifier, note(f"tick {i}"))
            elapsed = time.monotonic() - started
            assert queue.pending() == 11  # 10 queued + the one in flight
        # closing the port resets the stuck request; the worker moves on
    finally:
        queue.stop(timeout=5)
    assert elapsed < 0.5, f"200 enqueues took {elapsed:.3f}s"
    assert queue.dropped == 190
    assert counted("dropped") - dropped_before == 190


def test_a_full_queue_drops_the_oldest_and_delivers_the_newest_in_order() -> None:
    queue = DeliveryQueue(maxsize=3, policy=FAST)
    with Receiver() as receiver:
        notifier = webhook(f"{receiver.url}/hook")
        for i in range(5):
            queue.enqueue(notifier, note(f"m{i}"))
        queue.start()
        try:
            assert queue.flush(timeout=5)
        finally:
            queue.stop()
        assert [r.json()["message"] for r in receiver.received()] == ["m2", "m3", "m4"]
    assert queue.dropped == 2


def test_a_notifier_that_crashes_is_counted_and_the_worker_keeps_going() -> None:
    class Broken:
        kind = "broken"

        def post(self, n: Notification) -> int:
            raise RuntimeError("bug")

    before = counted("failed", "broken")
    queue = DeliveryQueue(policy=FAST)
    queue.start()
    try:
        with Receiver() as receiver:
            queue.enqueue(Broken(), note("x"))
            queue.enqueue(webhook(f"{receiver.url}/hook"), note("y"))
            assert queue.flush(timeout=5)
            assert len(receiver.received()) == 1
    finally:
        queue.stop()
    assert counted("failed", "broken") - before == 1
