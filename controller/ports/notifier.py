"""Notifier port: a chat or webhook destination for rollout messages.

A notifier sends one `Notification` and returns the HTTP status it got, or raises `DeliveryError`.
It never retries and never queues: retries, backoff, deduplication and the bounded queue live in one
place (controller/notify/queue.py) so every provider behaves the same and a slow chat service can
never delay a tick.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Protocol

Severity = Literal["info", "warn", "error"]

SEVERITIES: tuple[Severity, ...] = ("info", "warn", "error")

# Phases after which a rollout is over: the next message about the canary starts a new rollout.
TERMINAL_PHASES = frozenset({"Initialized", "Succeeded", "Failed", "Terminated"})


@dataclass(frozen=True)
class Notification:
    """One rollout message, with everything a template may show."""

    canary: str
    namespace: str
    phase: str
    severity: Severity
    message: str
    fields: dict[str, str] = field(default_factory=dict)
    cluster: str = ""
    # "Deployment/podinfo.test"
    target: str = ""
    canary_weight: int = 0
    primary_weight: int = 100
    # The one-line reason of the decision, e.g. "request-success-rate 91.2 outside [99, 100]".
    reason: str = ""
    link: str | None = None
    # Identifies the rollout (the target revision hash); one Slack bot message is kept per rollout.
    revision: str = ""

    def rollout_key(self) -> str:
        return f"{self.namespace}/{self.canary}@{self.revision}"

    def dedupe_key(self) -> tuple[str, str, str, str, int, str, str]:
        """Two notifications with the same key announce the same state (Flagger #1515)."""
        return (
            self.namespace,
            self.canary,
            self.revision,
            self.phase,
            self.canary_weight,
            self.severity,
            self.message,
        )


class DeliveryError(Exception):
    """A notification was not delivered.

    `status` is the HTTP status (None when no response came back); `retryable` says whether trying
    again may help (429, 5xx, timeouts, refused connections); `retry_after` is the server's
    Retry-After in seconds, if it sent one.
    """

    def __init__(
        self,
        detail: str,
        status: int | None = None,
        retryable: bool = False,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.status = status
        self.retryable = retryable
        self.retry_after = retry_after


class Notifier(Protocol):
    # Label in logs and in sluice_notifications_total{provider=...}: the provider type ("slack", ...).
    kind: str

    def post(self, notification: Notification) -> int:
        """Send `notification`; return the HTTP status of the (last) request or raise DeliveryError."""
        ...
