"""The analysis of one tick: pre-rollout hooks on the first, then rollout hooks and metric checks.

A failing hook or metric counts one failed check and ends the tick; reaching the threshold rolls back
in the same tick (Flagger waits for the next one). A tick whose canary saw too little traffic waits
without counting a failure, for at most `progressDeadlineSeconds`, and then fails with that reason.
"""

from __future__ import annotations

from controller.api.status import CheckVerdict
from controller.engine.outcomes import roll_back
from controller.engine.reasons import clock, hook_failure, insufficient_data, metric_failure
from controller.engine.tick import Tick


def is_first_analysis_tick(t: Tick) -> bool:
    live = t.live
    return t.status.iterations == 0 and live.canary_weight == 0 and not live.mirrored


def _count_failure(t: Tick, why: str) -> None:
    t.status.failed_checks += 1
    threshold = t.analysis.failed_checks_threshold()
    tally = f"failed checks {t.status.failed_checks}/{threshold}"
    if t.status.failed_checks >= threshold:
        roll_back(t, f"{why} ({tally}, threshold reached)")
        return
    t.event(f"Halt {t.name} advancement: {why}", warning=True)
    t.say(f"{why} ({tally})")


def analysis_passed(t: Tick) -> bool:
    """True when this tick may take a step; otherwise the tick's outcome is already decided."""
    if is_first_analysis_tick(t):
        failure = t.first_failure("pre-rollout")
        if failure:
            _count_failure(t, hook_failure(failure))
            return False
        t.event(f"Starting canary analysis for {t.target}.{t.canary.metadata.namespace}")
        return True
    failure = t.first_failure("rollout")
    if failure:
        _count_failure(t, hook_failure(failure))
        return False
    verdicts = t.verdicts()
    if verdicts:
        t.status.last_checks = [
            CheckVerdict(name=v.name, outcome=v.outcome, value=v.value, min=v.min, max=v.max, unit=v.unit,
                         reason=v.reason) for v in verdicts]
    failed = next((v for v in verdicts if v.outcome == "fail"), None)
    if failed:
        t.status.insufficient_data_checks = 0
        _count_failure(t, metric_failure(failed))
        return False
    starved = next((v for v in verdicts if v.outcome == "insufficient-data"), None)
    if starved:
        return _wait_for_traffic(t, insufficient_data(starved))
    t.status.insufficient_data_checks = 0
    return True


def _wait_for_traffic(t: Tick, why: str) -> bool:
    t.status.insufficient_data_checks += 1
    deadline = t.canary.spec.progress_deadline_seconds
    if t.hold("traffic", deadline):
        roll_back(t, f"{why} for {deadline}s (progressDeadlineSeconds)")
        return False
    t.say(f"{why}; waiting since {clock(t.status.waiting_since or '')} "
          f"({t.status.insufficient_data_checks} tick(s), no failed check counted)")
    return False
