"""What each phase does on a tick. Which phase comes next is the transition table's business.

Order inside an analysing tick (Progressing, WaitingPromotion): a new revision restarts the run; a
rollback hook rolls back; primary and canary must be ready (bounded by progressDeadlineSeconds);
skipAnalysis promotes; then the analysis, and on a pass one step of the strategy.
"""

from __future__ import annotations

from controller.api.routes import PRIMARY_ONLY, Routes
from controller.engine.actions import FinalizeRouting, RevertTarget, ScaleCanaryToZero
from controller.engine.checks import analysis_passed
from controller.engine.gates import closed_gate
from controller.engine.outcomes import (
    fail_promotion,
    record_revision,
    restart_run,
    roll_back,
    skip_analysis,
    start_run,
    succeed,
)
from controller.engine.readiness import not_ready
from controller.engine.reasons import short_revision
from controller.engine.revisions import configs_changed, differs_from_applied, is_new_revision
from controller.engine.strategies import STRATEGIES
from controller.engine.tick import Tick
from controller.engine.weights import promotion_step_down


def initializing(t: Tick) -> None:
    if t.status.phase == "":
        t.move("discovered")
    blocked = not_ready(t, "primary")
    if blocked is not None and not blocked.fatal:
        t.say(blocked.reason)
        return
    record_revision(t)
    if blocked is not None:
        t.move("primary-broken")
        t.alert("error", f"Initialization of {t.name} failed: {blocked.reason}")
        t.event(f"Initialization of {t.name} failed: {blocked.reason}", warning=True)
        t.say(f"initialization failed: {blocked.reason}")
        return
    t.status.last_promoted_spec = t.status.last_applied_spec
    t.set_routes(PRIMARY_ONLY)
    t.act(ScaleCanaryToZero())
    t.move("primary-ready")
    t.alert("info", f"Initialization done! {t.name}")
    t.event(f"Initialization done! {t.name}")
    t.say("primary ready: it serves all traffic and the target is scaled to zero")


def begin(t: Tick, why: str) -> None:
    """A run may start: through the confirm-rollout gates, into Progressing or Waiting.

    Not while the primary is down (after a failed promotion): a run needs a primary to fall back on.
    `sluice promote` is the way out then: it promotes the new revision straight to the primary.
    """
    primary = t.observations.primary
    if primary.state != "ready":
        detail = f" ({primary.reason})" if primary.reason else ""
        t.say(f"{why} waits: the primary is {primary.state}{detail}; `sluice promote` promotes it directly")
        return
    gate = closed_gate(t, "confirm-rollout")
    if gate is None:
        start_run(t, why)
        return
    record_revision(t)
    if gate.expired and t.status.phase == "Waiting":
        roll_back(t, gate.reason)
        return
    if t.status.phase != "Waiting":
        t.move("rollout-not-confirmed")
        if not gate.muted:
            t.alert("warn", f"Canary {t.name} is waiting for approval to start the rollout")
        t.event(f"Waiting for approval to roll out {t.name}")
    t.say(f"{why}; {gate.reason}")


def idle(t: Tick) -> None:
    """Initialized, Succeeded, Failed: start a run when the target has a new revision."""
    revision = t.observations.revision
    seen = short_revision(revision.spec_hash)
    if is_new_revision(t.status, revision):
        begin(t, f"new revision {seen}")
    elif revision.spec_hash != t.status.last_applied_spec:
        record_revision(t)
        t.say(f"target reverted to the primary's revision {seen}; nothing to roll out")
    else:
        t.say(f"{t.status.phase}; no new revision (target at {seen})")


def _rollback_requested(t: Tick) -> str | None:
    asked = next((r for r in t.hooks("rollback") if r.ok), None)
    return f'rollback hook "{asked.name}" asked for a rollback' if asked else None


def waiting(t: Tick) -> None:
    """Waiting on confirm-rollout; rollback hooks count here too (Flagger never reached them, #1432)."""
    why = _rollback_requested(t)
    if why:
        roll_back(t, why)
        return
    revision = t.observations.revision
    if revision.spec_hash == t.status.last_promoted_spec and not configs_changed(t.status, revision):
        record_revision(t)
        t.move("revision-withdrawn")
        t.say(f"target went back to the primary's revision {short_revision(revision.spec_hash)} while "
              "waiting; nothing to roll out")
        return
    begin(t, f"new revision {short_revision(revision.spec_hash)}")


def analysing(t: Tick) -> None:
    if differs_from_applied(t.status, t.observations.revision):
        restart_run(t)
        return
    why = _rollback_requested(t)
    if why:
        roll_back(t, why)
        return
    for side in ("primary", "canary"):
        blocked = not_ready(t, side)
        if blocked is not None:
            if blocked.fatal:
                roll_back(t, blocked.reason)
            else:
                t.say(blocked.reason)
            return
    if t.canary.spec.skip_analysis:
        skip_analysis(t)
        return
    if analysis_passed(t):
        STRATEGIES[t.analysis.effective_strategy()](t)


def _primary_blocks_promotion(t: Tick) -> bool:
    blocked = not_ready(t, "primary")
    if blocked is None:
        return False
    if blocked.fatal:
        fail_promotion(t, blocked.reason)
    else:
        t.say(f"promoting: {blocked.reason}")
    return True


def promoting(t: Tick) -> None:
    """Wait for the promoted primary, then shift traffic back to it (at once or stepWeightPromotion)."""
    if _primary_blocks_promotion(t):
        return
    current = t.live.canary_weight
    weight = promotion_step_down(t.analysis, current)
    if weight == 0:
        t.set_routes(PRIMARY_ONLY)
        t.move("traffic-on-primary")
        t.say("promoted primary is ready; all traffic back on it")
        return
    t.set_routes(Routes(100 - weight, weight))
    t.say(f"promoted primary is ready; shifting traffic back to it: canary weight {current} -> {weight}")


def finalising(t: Tick) -> None:
    if not _primary_blocks_promotion(t):
        succeed(t, "finalised", "promotion finished; canary scaled to zero")


def deleting(t: Tick) -> None:
    """revertOnDeletion: Terminating (target gets its replicas back), then Terminated."""
    if not t.canary.spec.revert_on_deletion:
        t.say("being deleted; revertOnDeletion is off, workloads are left as they are")
        return
    if t.status.phase == "Terminated":
        t.say("terminated: the target runs again and routing is finalized")
        return
    if t.status.phase != "Terminating":
        t.move("deleted")
        t.act(RevertTarget())
        t.event(f"Terminating canary {t.name}: reverting {t.target}")
        t.say(f"deleted with revertOnDeletion: giving {t.target} its replicas back")
        return
    blocked = not_ready(t, "canary")
    if blocked is not None and not blocked.fatal:
        t.say(f"reverting: {blocked.reason}")
        return
    t.act(FinalizeRouting())
    t.move("terminated")
    t.event(f"Terminated canary {t.name}", warning=blocked is not None)
    t.say(f"terminated, though {blocked.reason}" if blocked else f"terminated: {t.target} is ready again")


def terminal_without_deletion(t: Tick) -> None:
    t.say(f"{t.status.phase}; waiting for the canary to be deleted")
