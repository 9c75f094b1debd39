"""The severity filter and the retry schedule, as tables."""

from __future__ import annotations

import pytest

from controller.notify.dispatcher import accepts
from controller.notify.http import check_status, retry_after_seconds
from controller.notify.queue import RetryPolicy
from controller.ports.notifier import DeliveryError


@pytest.mark.parametrize(
    ("alert", "message", "delivered"),
    [
        ("info", "info", True),
        ("info", "warn", True),
        ("info", "error", True),
        ("warn", "info", False),
        ("warn", "warn", True),
        ("warn", "error", True),
        ("error", "info", False),
        ("error", "warn", False),
        ("error", "error", True),
    ],
)
def test_severity_filter(alert: str, message: str, delivered: bool) -> None:
    assert accepts(alert, message) is delivered  # type: ignore[arg-type]


def test_backoff_doubles_up_to_its_cap_and_retry_after_wins_up_to_its_cap() -> None:
    policy = RetryPolicy(attempts=6, backoff=1.0, max_backoff=5.0, max_retry_after=30.0)
    plain = DeliveryError("HTTP 500", status=500, retryable=True)
    assert [policy.delay(attempt, plain) for attempt in range(1, 6)] == [1.0, 2.0, 4.0, 5.0, 5.0]
    assert policy.delay(1, DeliveryError("429", status=429, retryable=True, retry_after=12)) == 12
    assert policy.delay(1, DeliveryError("429", status=429, retryable=True, retry_after=3600)) == 30.0
    assert policy.delay(3, DeliveryError("429", status=429, retryable=True, retry_after=0)) == 0


def test_retry_after_in_seconds_or_as_an_http_date() -> None:
    assert retry_after_seconds("7") == 7.0
    assert retry_after_seconds(" 1.5 ") == 1.5
    assert retry_after_seconds("-3") == 0.0
    now = 1_700_000_000.0  # Tue, 14 Nov 2023 22:13:20 GMT
    assert retry_after_seconds("Tue, 14 Nov 2023 22:13:50 GMT", now=now) == 30.0
    assert retry_after_seconds("soon") is None
    assert retry_after_seconds(None) is None


@pytest.mark.parametrize(
    ("status", "retryable"), [(400, False), (401, False), (404, False), (429, True), (500, True), (503, True)]
)
def test_which_statuses_are_worth_a_retry(status: int, retryable: bool) -> None:
    assert check_status(204, {}, "") == 204
    with pytest.raises(DeliveryError) as caught:
        check_status(status, {"retry-after": "2"}, "  body text \n")
    assert caught.value.retryable is retryable
    assert caught.value.status == status
    assert caught.value.retry_after == 2.0
    assert caught.value.detail == f"HTTP {status}: body text"
