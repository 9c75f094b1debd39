"""How a run ends or turns: start, promote, succeed, roll back, fail a promotion.

Each is one function because several phases reach it for different reasons (a rollback comes from the
failed-checks threshold, a rollback hook, a deadline, a gate timeout or `sluice abort`), and the
actions must be the same whichever way it came.
"""

from __future__ import annotations

from controller.api.routes import PRIMARY_ONLY, Routes
from controller.engine.actions import PromoteToPrimary, RunHooks, ScaleCanaryFromZero, ScaleCanaryToZero
from controller.engine.reasons import short_revision, stamp
from controller.engine.tick import Tick
from controller.engine.weights import schedule


def _cookie(name: str | None, revision: str | None) -> str | None:
    """A sticky-session cookie per revision: deterministic, so a re-run tick makes the same one."""
    return f"{name}={(revision or 'none')[:16]}" if name else None


def _retire_cookie(t: Tick) -> None:
    if t.status.session_affinity_cookie:
        t.status.previous_session_affinity_cookie = t.status.session_affinity_cookie
        t.status.session_affinity_cookie = None


def record_revision(t: Tick) -> None:
    """Remember the target revision seen now as the one this run is about."""
    revision = t.observations.revision
    t.status.last_applied_spec = revision.spec_hash
    t.status.tracked_configs = dict(revision.tracked_configs) or None


def reset_run(t: Tick) -> None:
    s = t.status
    s.canary_weight = s.failed_checks = s.iterations = s.insufficient_data_checks = s.step = 0
    s.mirrored = s.paused = False
    s.last_checks = None
    s.rollout_started_at = stamp(t.now)
    s.total_steps = t.analysis.iterations if t.analysis.effective_strategy() != "canary" else len(
        schedule(t.analysis))
    affinity = t.analysis.session_affinity
    s.session_affinity_cookie = _cookie(affinity.cookie_name if affinity else None, s.last_applied_spec)


def start_run(t: Tick, why: str) -> None:
    record_revision(t)
    reset_run(t)
    if t.live != PRIMARY_ONLY:
        # Left over from a failed promotion (0/100): the new revision must not inherit the traffic.
        t.set_routes(PRIMARY_ONLY)
    t.move("rollout-confirmed")
    t.act(ScaleCanaryFromZero())
    t.alert("info", f"New revision detected, progressing canary analysis of {t.name}")
    t.event(f"New revision detected! Scaling up {t.target}.{t.canary.metadata.namespace}")
    t.say(f"{why}; scaling up the canary")


def restart_run(t: Tick) -> None:
    """A new revision mid-run: back to 100/0 and start the analysis over (no confirm-rollout re-gate)."""
    old = t.status.last_applied_spec
    record_revision(t)
    reset_run(t)
    t.set_routes(PRIMARY_ONLY)
    t.move("new-revision")
    t.event(f"New revision detected! Restarting analysis for {t.target}.{t.canary.metadata.namespace}")
    new = short_revision(t.status.last_applied_spec)
    t.say(f"new revision {new} (was {short_revision(old)}); routes back to 100/0, analysis restarted")


def promote(t: Tick, why: str) -> None:
    record_revision(t)
    t.act(PromoteToPrimary())
    t.move("promotion-started")
    t.status.paused = False
    t.event(f"Copying {t.target}.{t.canary.metadata.namespace} template spec to the primary")
    t.say(f"{why}; promoting: copying the canary spec to the primary")


def succeed(t: Tick, trigger: str, why: str) -> None:
    t.act(ScaleCanaryToZero())
    t.move(trigger)
    t.status.last_promoted_spec = t.status.last_applied_spec
    t.status.iterations = 0
    affinity = t.analysis.session_affinity
    t.status.primary_session_affinity_cookie = _cookie(
        affinity.primary_cookie_name if affinity else None, t.status.last_promoted_spec)
    _retire_cookie(t)
    t.alert("info", f"Canary analysis completed successfully, promotion finished for {t.name}")
    t.event(f"Promotion completed! Scaling down {t.target}.{t.canary.metadata.namespace}")
    t.act(RunHooks("post-rollout", t.status.phase))
    t.say(why)


def skip_analysis(t: Tick) -> None:
    t.set_routes(PRIMARY_ONLY)
    t.act(PromoteToPrimary())
    succeed(t, "analysis-skipped", "skipAnalysis is set: promoted without analysis")


def roll_back(t: Tick, why: str) -> None:
    t.set_routes(PRIMARY_ONLY)
    t.act(ScaleCanaryToZero())
    t.move("rollback")
    t.status.iterations = 0
    t.status.paused = False
    _retire_cookie(t)
    t.alert("error", f"Canary analysis failed for {t.name}: {why}")
    t.event(f"Rolling back {t.name}: {why}", warning=True)
    t.act(RunHooks("post-rollout", t.status.phase))
    t.say(f"rolled back: {why}")


def fail_promotion(t: Tick, why: str) -> None:
    """The promoted primary is broken: send traffic to the canary (still healthy, still running)."""
    t.set_routes(Routes(0, 100))
    t.move("promotion-failed")
    t.alert("error", f"Promotion failed for {t.name}: {why}; all traffic sent to the canary")
    t.event(f"Promotion failed for {t.name}: {why}; routing all traffic to the canary", warning=True)
    t.act(RunHooks("post-rollout", t.status.phase))
    t.say(f"promotion failed: {why}; all traffic on the canary, which keeps its replicas")
