"""Store port: where resources, status and events live (Kubernetes API, or SQLite locally)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

from controller.api.canary import Canary
from controller.api.status import CanaryStatus


class Conflict(Exception):
    """The object changed since it was read (optimistic concurrency); re-read and retry."""


class NotFound(Exception):
    pass


@dataclass(frozen=True)
class Event:
    namespace: str
    name: str
    type: Literal["Normal", "Warning"]
    reason: str
    message: str
    timestamp: str = ""


class Store(Protocol):
    def list_canaries(self, namespace: str | None = None) -> list[Canary]: ...

    def get_canary(self, namespace: str, name: str) -> Canary: ...

    def write_status(self, canary: Canary, status: CanaryStatus) -> Canary:
        """Write status only if the canary's resourceVersion is unchanged; raise Conflict otherwise."""

    def record_event(self, event: Event) -> None: ...

    def list_events(self, namespace: str, name: str) -> list[Event]: ...
