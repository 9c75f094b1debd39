"""`sluice_notifications_total{provider,outcome}`: what happened to every notification, per provider type.

Outcomes: `sent`; `failed` (gave up: not retryable, out of attempts, or shut down); `retried` (one per
extra attempt); `dropped` (the queue was full, the oldest message was discarded); `duplicate` (the
same state was already announced); `misconfigured` (the AlertProvider could not be used).
"""

from __future__ import annotations

from prometheus_client import Counter

NOTIFICATIONS = Counter(
    "sluice_notifications",
    "Chat and webhook notifications by provider type and outcome",
    ["provider", "outcome"],
)


def count(provider: str, outcome: str) -> None:
    NOTIFICATIONS.labels(provider=provider, outcome=outcome).inc()
