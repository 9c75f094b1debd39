"""Constructed canaries and a scripted StatusBackend for the status CLI's unit tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from controller.api.canary import Canary
from controller.api.routes import Routes
from controller.api.status import CanaryStatus
from controller.ports.store import Event, NotFound

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "local" / "canary.yaml"


def canary(status: CanaryStatus | None = None, name: str = "podinfo", namespace: str = "default",
           **analysis: Any) -> Canary:
    """examples/local/canary.yaml (step 20 to max 60 every 3s, threshold 2), with `analysis` overrides."""
    wire = yaml.safe_load(EXAMPLE.read_text())
    wire["metadata"] = {"name": name, "namespace": namespace}
    for key, value in analysis.items():
        if value is None:
            wire["spec"]["analysis"].pop(key, None)
        else:
            wire["spec"]["analysis"][key] = value
    if status is not None:
        wire["status"] = status.wire()
    return Canary.model_validate(wire)


class ScriptedBackend:
    """Serves `statuses` one per change: every wait_for_change moves to the next one (or, past the last,
    lets `timeout` pass on a fake clock). `None` in the script means the canary is gone."""

    def __init__(self, statuses: list[CanaryStatus | None], target_revision: str | None = None,
                 **analysis: Any) -> None:
        self.statuses = statuses
        self.index = 0
        self.now = 0.0
        self.target = target_revision
        self.analysis = analysis
        self.events_served: list[Event] = []
        self.enqueued: list[tuple[str, str, str]] = []

    def clock(self) -> float:
        return self.now

    def list_canaries(self, namespace: str | None) -> list[Canary]:
        return [self.get_canary("default", "podinfo")]

    def get_canary(self, namespace: str, name: str) -> Canary:
        status = self.statuses[self.index]
        if status is None or name != "podinfo":
            raise NotFound(f"Canary {namespace}/{name} not found")
        return canary(status, **self.analysis)

    def events(self, namespace: str, name: str) -> list[Event]:
        return self.events_served

    def live_routes(self, canary: Canary) -> Routes | None:
        return None

    def target_revision(self, canary: Canary) -> str | None:
        return self.target

    def traffic(self, canary: Canary) -> dict | None:
        return None

    def enqueue(self, namespace: str, name: str, command: str) -> None:
        self.enqueued.append((namespace, name, command))

    def changes(self) -> int:
        return self.index

    def wait_for_change(self, since: int, timeout: float) -> int:
        if self.index + 1 < len(self.statuses):
            self.index += 1
        else:
            self.now += timeout
        return self.index
