"""The engine's two answers: what to observe before deciding (Needs), and the decision itself."""

from __future__ import annotations

from dataclasses import dataclass

from controller.api.status import CanaryStatus
from controller.engine.actions import Action


@dataclass(frozen=True)
class Needs:
    """Which expensive observations this tick needs: webhook types to call (in order) and metrics.

    Readiness, revision, live routes, commands and deletion are always gathered; hooks and metric
    queries cost I/O (and a `rollout` hook may start a load test), so they are called only when asked.
    """

    hooks: tuple[str, ...] = ()
    metrics: bool = False


@dataclass(frozen=True)
class Decision:
    """The new status (written once by the runtime), the actions to apply in order, and why."""

    status: CanaryStatus
    actions: tuple[Action, ...]
    reason: str
