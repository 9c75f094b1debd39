"""The rollout engine: a pure state machine from (canary, observations, now) to a decision.

No I/O, no clock, no globals: the runtime observes, asks plan() what else to observe, calls advance(),
applies the actions in order and writes the status once.
"""

from controller.engine.actions import (
    Action,
    Alert,
    FinalizeRouting,
    PromoteToPrimary,
    RecordEvent,
    RevertTarget,
    RunHooks,
    ScaleCanaryFromZero,
    ScaleCanaryToZero,
    SetRoutes,
)
from controller.engine.decision import Decision, Needs
from controller.engine.machine import advance, plan
from controller.engine.observations import (
    HookResult,
    ManualCommand,
    MetricVerdict,
    MissingObservation,
    Observations,
)

__all__ = [
    "Action",
    "Alert",
    "Decision",
    "FinalizeRouting",
    "HookResult",
    "ManualCommand",
    "MetricVerdict",
    "MissingObservation",
    "Needs",
    "Observations",
    "PromoteToPrimary",
    "RecordEvent",
    "RevertTarget",
    "RunHooks",
    "ScaleCanaryFromZero",
    "ScaleCanaryToZero",
    "SetRoutes",
    "advance",
    "plan",
]
