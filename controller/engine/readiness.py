"""Waiting for the primary or the canary to be ready, bounded by `progressDeadlineSeconds`.

Flagger only gives up when the platform reports a deadline (its issues #1247, #1591); here the engine
also counts the wait itself, so a platform that just says "waiting" (local processes) is bounded too.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from controller.engine.reasons import clock
from controller.engine.tick import Tick


@dataclass(frozen=True)
class NotReady:
    reason: str
    fatal: bool


def not_ready(t: Tick, side: Literal["primary", "canary"]) -> NotReady | None:
    """None when `side` is ready; else why not, and whether it is time to give up."""
    readiness = t.observations.primary if side == "primary" else t.observations.canary
    if readiness.state == "ready":
        return None
    detail = f": {readiness.reason}" if readiness.reason else ""
    if readiness.state == "failed":
        return NotReady(f"{side} failed{detail}", fatal=True)
    deadline = t.canary.spec.progress_deadline_seconds
    if t.hold(f"{side}-ready", deadline):
        return NotReady(f"{side} not ready within progressDeadlineSeconds ({deadline}s){detail}", fatal=True)
    return NotReady(f"waiting for the {side} to be ready since {clock(t.status.waiting_since or '')}{detail}",
                    fatal=False)
