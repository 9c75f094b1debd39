"""The rollout state machine as a table: (from phases, trigger) -> to phase, read top to bottom.

Phase handlers decide *which* trigger fired; this table alone decides where it leads, and refuses any
move it does not list. Staying in a phase (waiting, stepping weights) is not a transition.
"""

from __future__ import annotations

from dataclasses import dataclass

from controller.api.status import Phase

IDLE: frozenset[Phase] = frozenset({"Initialized", "Succeeded", "Failed"})
ANALYSING: frozenset[Phase] = frozenset({"Progressing", "WaitingPromotion"})
GATED: frozenset[Phase] = frozenset({"Waiting", "Progressing", "WaitingPromotion"})
FINISHING: frozenset[Phase] = frozenset({"Promoting", "Finalising"})
ALL: frozenset[Phase] = frozenset(
    {"", "Initializing", "Waiting", "Promoting", "Finalising", "Terminating", "Terminated"} | IDLE | ANALYSING
)


@dataclass(frozen=True)
class Transition:
    sources: frozenset[Phase]
    trigger: str
    target: Phase
    meaning: str


TRANSITIONS: tuple[Transition, ...] = (
    Transition(frozenset({""}), "discovered", "Initializing", "first sight of the canary"),
    Transition(frozenset({"Initializing"}), "primary-ready", "Initialized",
               "primary ready: route 100/0 to it, scale the target to zero"),
    Transition(frozenset({"Initializing"}), "primary-broken", "Failed",
               "primary failed, or not ready within progressDeadlineSeconds"),
    Transition(IDLE | {"Waiting"}, "rollout-confirmed", "Progressing",
               "new revision (or retry) and confirm-rollout gates pass: scale the canary up"),
    Transition(IDLE, "rollout-not-confirmed", "Waiting", "new revision, a confirm-rollout gate says no"),
    Transition(frozenset({"Waiting"}), "revision-withdrawn", "Initialized",
               "while waiting, the target went back to the primary's revision: nothing to roll out"),
    Transition(ANALYSING, "new-revision", "Progressing", "target changed mid-run: 100/0, counters reset"),
    Transition(GATED, "rollback", "Failed",
               "failed-checks threshold, rollback hook, deadline, gate timeout, abort: 100/0, scale to 0"),
    Transition(frozenset({"Progressing"}), "analysis-skipped", "Succeeded",
               "skipAnalysis: promote at once once the canary is ready"),
    Transition(frozenset({"Progressing"}), "promotion-not-confirmed", "WaitingPromotion",
               "max weight or iterations reached, a confirm-promotion gate says no"),
    Transition(GATED | {"Failed"}, "promotion-started", "Promoting",
               "analysis done and gates pass, or `sluice promote`: copy the canary spec to the primary"),
    Transition(frozenset({"Promoting"}), "traffic-on-primary", "Finalising",
               "promoted primary ready and all traffic back on it"),
    Transition(FINISHING, "promotion-failed", "Failed",
               "primary failed while promoting: traffic to the healthy canary, which keeps running"),
    Transition(frozenset({"Finalising"}), "finalised", "Succeeded", "canary scaled to zero"),
    Transition(ALL - {"Terminating", "Terminated"}, "deleted", "Terminating",
               "deleted with revertOnDeletion: give the target its replicas back"),
    Transition(frozenset({"Terminating"}), "terminated", "Terminated", "target ready; routing finalized"),
)


class IllegalTransition(RuntimeError):
    pass


def next_phase(phase: Phase, trigger: str) -> Phase:
    for row in TRANSITIONS:
        if row.trigger == trigger and phase in row.sources:
            return row.target
    raise IllegalTransition(f"no transition from {phase or '<new>'!r} on {trigger!r}")
