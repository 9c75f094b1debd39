"""Canary status: everything durable about a rollout lives here (Flagger's fields plus sluice's).

The engine is a pure function of (spec, status, observations), so whatever it must remember between
ticks is a status field: counters, the gate or readiness it is waiting on and since when, the last
manual command it handled, and the verdicts behind its last decision (so `sluice status` can show
which check, which value and which range, which Flagger never exposed: its issues #1810, #1304).
"""

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

CheckOutcome = Literal["pass", "fail", "insufficient-data"]


class CanaryCondition(Model):
    type: str = "Promoted"
    status: Literal["True", "False", "Unknown"] = "Unknown"
    last_update_time: str | None = None
    last_transition_time: str | None = None
    reason: str | None = None
    message: str | None = None


class CheckVerdict(Model):
    """One metric check of the last analysis tick, as judged: the value against its range."""

    name: str
    outcome: CheckOutcome
    value: float | None = None
    min: float | None = None
    max: float | None = None
    unit: str = ""
    reason: str = ""


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
    primary_session_affinity_cookie: str | None = None
    conditions: list[CanaryCondition] | None = None
    # sluice: why the last tick did what it did, in one line.
    last_reason: str | None = None
    # sluice: the metric verdicts of the last tick that ran the analysis.
    last_checks: list[CheckVerdict] | None = None
    # sluice: what the rollout is held on (e.g. `gate:confirm-promotion`, `canary-ready`, `traffic`) and
    # since when; deadlines (gate timeouts, progressDeadlineSeconds) count from `waiting_since`.
    waiting_for: str | None = None
    waiting_since: str | None = None
    # sluice: consecutive analysis ticks whose canary saw too little traffic to be judged.
    insufficient_data_checks: int = 0
    # sluice: when the current (or last) run started.
    rollout_started_at: str | None = None
    # sluice: progress of the run, `step` of `total_steps` (weight steps, or iterations for A/B, B/G).
    step: int = 0
    total_steps: int = 0
    # sluice: traffic to the primary is mirrored to the canary.
    mirrored: bool = False
    # sluice: held by a manual `pause` until `resume`.
    paused: bool = False
    # sluice: id of the last manual command handled, so a command is acted on once.
    last_command: str | None = None
