"""What the engine asks the runtime to do, in order. Each action maps to one port call."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from controller.api.routes import Routes

Severity = Literal["info", "warn", "error"]


@dataclass(frozen=True)
class SetRoutes:
    """Router.set_routes(canary, routes)."""

    routes: Routes


@dataclass(frozen=True)
class ScaleCanaryToZero:
    """Platform.scale_to_zero: the target (canary) workload goes to zero replicas."""


@dataclass(frozen=True)
class ScaleCanaryFromZero:
    """Platform.scale_from_zero: the target gets its replicas back for a new run."""


@dataclass(frozen=True)
class PromoteToPrimary:
    """Platform.promote: copy the target's spec and tracked configs to the primary."""


@dataclass(frozen=True)
class RevertTarget:
    """Platform.revert (revertOnDeletion): the target takes its replicas and the apex back."""


@dataclass(frozen=True)
class FinalizeRouting:
    """Router.finalize, then drop the finalizer: the last step of revertOnDeletion."""


@dataclass(frozen=True)
class RunHooks:
    """Fire-and-forget webhooks of `type` (post-rollout, event); results are only logged.

    For `event` hooks, `message` and `event_type` go into the payload's metadata as Flagger does.
    """

    type: Literal["post-rollout", "event"]
    phase: str
    message: str = ""
    event_type: Literal["Normal", "Warning"] = "Normal"


@dataclass(frozen=True)
class Alert:
    """Notify the canary's alert providers; each provider filters by its own severity."""

    severity: Severity
    message: str


@dataclass(frozen=True)
class RecordEvent:
    """A Kubernetes-style event on the canary (Flagger records all with reason `Synced`)."""

    type: Literal["Normal", "Warning"]
    message: str
    reason: str = "Synced"


Action = (
    SetRoutes
    | ScaleCanaryToZero
    | ScaleCanaryFromZero
    | PromoteToPrimary
    | RevertTarget
    | FinalizeRouting
    | RunHooks
    | Alert
    | RecordEvent
)
