"""Notifier port: a chat or webhook destination for rollout messages."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Protocol

Severity = Literal["info", "warn", "error"]


@dataclass(frozen=True)
class Notification:
    canary: str
    namespace: str
    phase: str
    severity: Severity
    message: str
    fields: dict[str, str] = field(default_factory=dict)


class Notifier(Protocol):
    def post(self, notification: Notification) -> None: ...
