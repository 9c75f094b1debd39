"""Canary status: everything durable about a rollout lives here (Flagger's fields plus sluice's)."""

from __future__ import annotations

from typing import Literal

from controller.api.base import Model

Phase = Literal[
    "",
    "Initializing",
    "Initialized",
    "Waiting",
    "Progressing",
    "WaitingPromotion",
    "Promoting",
    "Finalising",
    "Succeeded",
    "Failed",
    "Terminating",
    "Terminated",
]


class CanaryCondition(Model):
    type: str = "Promoted"
    status: Literal["True", "False", "Unknown"] = "Unknown"
    last_update_time: str | None = None
    last_transition_time: str | None = None
    reason: str | None = None
    message: str | None = None


class CanaryStatus(Model):
    phase: Phase = ""
    canary_weight: int = 0
    failed_checks: int = 0
    iterations: int = 0
    last_applied_spec: str | None = None
    last_promoted_spec: str | None = None
    tracked_configs: dict[str, str] | None = None
    last_transition_time: str | None = None
    session_affinity_cookie: str | None = None
    previous_session_affinity_cookie: str | None = None
    conditions: list[CanaryCondition] | None = None
