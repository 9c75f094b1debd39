"""The engine's entry points: plan() what to observe, then advance() to a decision.

A tick in the runtime:
    needs = plan(canary, observations, now)          # which hooks to call, whether to run metrics
    observations = replace(observations, hooks=..., metrics=...)
    decision = advance(canary, observations, now)    # status to write, actions to apply, reason
Both are pure: same inputs, same answer. Deletion comes first, then suspend, then manual commands,
then a manual pause, then the current phase's handler.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from controller.api.canary import Canary
from controller.engine.commands import handle_command
from controller.engine.decision import Decision, Needs
from controller.engine.observations import Observations
from controller.engine.phases import (
    analysing,
    deleting,
    finalising,
    idle,
    initializing,
    promoting,
    terminal_without_deletion,
    waiting,
)
from controller.engine.tick import Tick
from controller.engine.transitions import GATED

HANDLERS: dict[str, Callable[[Tick], None]] = {
    "": initializing,
    "Initializing": initializing,
    "Initialized": idle,
    "Waiting": waiting,
    "Progressing": analysing,
    "WaitingPromotion": analysing,
    "Promoting": promoting,
    "Finalising": finalising,
    "Succeeded": idle,
    "Failed": idle,
    "Terminating": terminal_without_deletion,
    "Terminated": terminal_without_deletion,
}


def _run(canary: Canary, observations: Observations, now: datetime, planning: bool) -> Tick:
    t = Tick(canary, observations, now, planning)
    if observations.deleting:
        deleting(t)
    elif canary.spec.suspend:
        t.status = t.before.model_copy(deep=True)
        t.say("suspended (spec.suspend): nothing is done until it is cleared")
    elif handle_command(t):
        pass
    elif t.status.paused and t.status.phase in GATED:
        t.say(f"paused at canary weight {t.live.canary_weight}; no checks until resumed")
    else:
        HANDLERS[t.status.phase](t)
    return t


def plan(canary: Canary, observations: Observations, now: datetime) -> Needs:
    """What this tick needs beyond the always-gathered observations (hooks and metrics are ignored)."""
    return _run(canary, observations, now, planning=True).needs()


def advance(canary: Canary, observations: Observations, now: datetime) -> Decision:
    """The decision for this tick; raises MissingObservation if a need from plan() was not supplied."""
    return _run(canary, observations, now, planning=False).decision()
