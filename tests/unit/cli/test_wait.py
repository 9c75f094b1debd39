"""Exit codes of `status --watch` and `sluice wait`, from scripted status sequences on a fake clock."""

from __future__ import annotations

import click
import pytest

from controller.api.status import CanaryStatus
from controller.cli.backend import Snapshot
from controller.cli.status import watch_key
from controller.cli.wait import (
    PROMOTED,
    DurationType,
    GoalType,
    LinePrinter,
    follow,
    phase_key,
    wait_outcome,
    watch_outcome,
)
from tests.unit.cli.fakes import ScriptedBackend

REV1, REV2 = "1" * 64, "2" * 64


def at(phase: str, weight: int = 0, **fields: object) -> CanaryStatus:
    return CanaryStatus(phase=phase, canary_weight=weight, last_applied_spec=REV2,  # type: ignore[arg-type]
                        last_promoted_spec=REV1, **fields)


SUCCEEDED = CanaryStatus(phase="Succeeded", last_applied_spec=REV2, last_promoted_spec=REV2)
FAILED = at("Failed", last_reason="rolled back: request-success-rate 80% is below min 99%")


def watch(script: list[CanaryStatus | None], timeout: float | None = None,
          target: str | None = None) -> tuple[int, list[str], ScriptedBackend]:
    backend = ScriptedBackend(script, target_revision=target)
    lines: list[str] = []
    code, _ = follow(backend, "default", "podinfo", watch_outcome, LinePrinter(watch_key, echo=lines.append),
                     timeout, refresh=1.0, clock=backend.clock)
    return code, lines, backend


def wait(goal: frozenset[str] | str, script: list[CanaryStatus | None], timeout: float = 60,
         target: str | None = None) -> tuple[int, list[str]]:
    backend = ScriptedBackend(script, target_revision=target)
    lines: list[str] = []
    goals = goal if isinstance(goal, frozenset) else frozenset({goal})
    code, _ = follow(backend, "default", "podinfo", lambda snap: wait_outcome(goals, snap),
                        LinePrinter(phase_key, echo=lines.append), timeout, clock=backend.clock)
    return code, lines


@pytest.mark.parametrize(
    ("script", "code"),
    [
        ([at("Progressing", 20), at("Progressing", 40), at("Promoting", 60), at("Finalising"), SUCCEEDED], 0),
        ([at("Progressing", 20), at("Progressing", 20, failed_checks=1), FAILED], 1),
        ([at("Progressing", 60), at("WaitingPromotion", 60, waiting_for="gate:confirm-promotion")], 2),
        ([at("Waiting", waiting_for="gate:confirm-rollout")], 2),
        ([at("Progressing", 20, waiting_for="gate:confirm-traffic-increase")], 2),
        ([at("Terminated")], 1),
        ([CanaryStatus(), at("Initializing"), at("Initialized")], 0),
    ],
)
def test_watch_exits_by_outcome(script: list[CanaryStatus | None], code: int) -> None:
    got, lines, _ = watch(script)
    assert got == code
    assert len(lines) == len(script)


def test_watch_keeps_going_through_readiness_waits_and_pauses_then_times_out() -> None:
    script = [at("Progressing", 20, waiting_for="canary-ready"), at("Progressing", 20, paused=True)]
    code, lines, backend = watch(script, timeout=10)
    assert code == 3
    assert backend.now == pytest.approx(10)
    assert [line.split()[2:4] for line in lines] == [["Progressing", "weight"], ["Progressing", "(paused)"]]


def test_watch_prints_a_line_per_change_only() -> None:
    script = [at("Progressing", 20), at("Progressing", 20), at("Progressing", 40), SUCCEEDED]
    _, lines, _ = watch(script)
    assert [line.split(" weight ")[1].split()[0] for line in lines] == ["20/80", "40/60", "0/100"]


def test_a_stale_ending_is_not_an_ending_while_the_target_has_a_new_revision() -> None:
    # Right after `sluice apply` of REV2: the status still says Succeeded from the run of REV1.
    old_success = CanaryStatus(phase="Succeeded", last_applied_spec=REV1, last_promoted_spec=REV1)
    code, lines, _ = watch([old_success, at("Progressing", 20), SUCCEEDED], target=REV2)
    assert code == 0 and len(lines) == 3
    old_failure = CanaryStatus(phase="Failed", last_applied_spec=REV1, last_promoted_spec="0" * 64)
    assert watch([old_failure, at("Progressing", 20), FAILED], target=REV2)[0] == 1
    # Target set back to what the primary runs: no new run will start, the ending stands.
    assert watch([old_failure], target="0" * 64)[0] == 1
    assert watch([old_failure], target=REV1)[0] == 1


def test_wait_for_promoted_accepts_a_first_deploy_too() -> None:
    first_deploy = [CanaryStatus(), at("Initializing"), at("Initialized")]
    assert wait(PROMOTED, first_deploy)[0] == 0
    assert wait(PROMOTED, [at("Progressing", 20), SUCCEEDED])[0] == 0
    assert wait("Failed", first_deploy)[0] == 1


def test_wait_for_promoted() -> None:
    script = [at("Progressing", 20), at("Progressing", 40), at("Promoting"), SUCCEEDED]
    code, lines = wait("Succeeded", script)
    assert code == 0
    assert [line.split()[2] for line in lines] == ["Progressing", "Promoting", "Succeeded"]
    assert wait("Succeeded", [at("Progressing", 20), FAILED])[0] == 1


def test_wait_for_failed_or_a_phase() -> None:
    assert wait("Failed", [at("Progressing", 20), FAILED])[0] == 0
    assert wait("Failed", [at("Progressing", 20), SUCCEEDED])[0] == 1
    assert wait("WaitingPromotion", [at("Progressing", 20), at("WaitingPromotion", 60)])[0] == 0
    # Missed it: the run went by and ended before the wait looked.
    assert wait("Progressing", [SUCCEEDED], target=REV2)[0] == 1
    # Not missed: the target has a revision the controller has yet to start.
    old_success = CanaryStatus(phase="Succeeded", last_applied_spec=REV1, last_promoted_spec=REV1)
    assert wait("Progressing", [old_success, at("Progressing", 20)], target=REV2)[0] == 0


def test_wait_does_not_end_on_approval_gates_only_on_endings_or_timeout() -> None:
    gated = at("WaitingPromotion", 60, waiting_for="gate:confirm-promotion")
    code, lines = wait("Succeeded", [gated], timeout=30)
    assert code == 3 and len(lines) == 1
    assert wait("Succeeded", [gated, at("Promoting"), SUCCEEDED])[0] == 0


def test_a_missing_or_deleted_canary_is_an_error() -> None:
    with pytest.raises(click.ClickException, match="canary default/podinfo not found"):
        watch([None])
    with pytest.raises(click.ClickException, match="canary default/podinfo was deleted"):
        watch([at("Progressing", 20), None])


def test_goal_and_duration_parameters() -> None:
    goal = GoalType()
    assert goal.convert("promoted", None, None) == PROMOTED == {"Succeeded", "Initialized"}
    assert goal.convert("failed", None, None) == {"Failed"}
    assert goal.convert("phase=waitingpromotion", None, None) == {"WaitingPromotion"}
    with pytest.raises(click.BadParameter, match="unknown phase 'Paused'"):
        goal.convert("phase=Paused", None, None)
    with pytest.raises(click.BadParameter, match="use promoted, failed or phase=P"):
        goal.convert("done", None, None)
    assert DurationType().convert("1m30s", None, None) == 90
    with pytest.raises(click.BadParameter, match="not a duration"):
        DurationType().convert("soon", None, None)


def test_snapshots_are_what_the_printer_keys_on() -> None:
    backend = ScriptedBackend([at("Progressing", 20)])
    snap = Snapshot(backend.get_canary("default", "podinfo"))
    assert phase_key(snap) == "Progressing"
    assert watch_key(snap)[:3] == ("Progressing", False, 20)


def test_ctrl_c_exits_130_not_an_outcome() -> None:
    class Interrupted(ScriptedBackend):
        def wait_for_change(self, since: int, timeout: float) -> int:
            raise KeyboardInterrupt

    with pytest.raises(SystemExit) as exited:
        follow(Interrupted([at("Progressing", 20)]), "default", "podinfo", watch_outcome, lambda snap: None)
    assert exited.value.code == 130
