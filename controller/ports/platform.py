"""Platform port: where workloads run (Kubernetes Deployments, or local processes)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Protocol

from controller.api.canary import Canary


@dataclass(frozen=True)
class Readiness:
    state: Literal["ready", "waiting", "failed"]
    reason: str = ""

    @property
    def ready(self) -> bool:
        return self.state == "ready"


@dataclass(frozen=True)
class Revision:
    """Identity of what the target runs: hash of the canonical JSON of its spec, plus tracked configs."""

    spec_hash: str
    tracked_configs: dict[str, str] = field(default_factory=dict)


class Platform(Protocol):
    def initialize(self, canary: Canary) -> None:
        """Create the primary from the target (idempotent) and the primary/canary services."""

    def revision(self, canary: Canary) -> Revision: ...

    def primary_readiness(self, canary: Canary) -> Readiness: ...

    def canary_readiness(self, canary: Canary) -> Readiness: ...

    def scale_to_zero(self, canary: Canary) -> None: ...

    def scale_from_zero(self, canary: Canary) -> None: ...

    def promote(self, canary: Canary) -> None:
        """Copy the target's spec (and tracked configs) to the primary."""

    def revert(self, canary: Canary) -> None:
        """revertOnDeletion: give the target its replicas back and hand the apex back to it."""
