"""`sluice wait` and `sluice status --watch` as real processes, following a rollout a thread plays into a
real state folder (the thread stands in for `sluice run`, so every phase and exit code is reached on cue).

The thread moves on only once the watcher has printed the line for the last step, so the test shows one
line per change as a user would see it, without sleeping.
"""

from __future__ import annotations

import os
import subprocess
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from controller.api.status import CanaryStatus
from controller.api.workload import Workload
from controller.platforms.local.revision import spec_revision
from controller.platforms.local.store import LocalStore
from controller.ports.store import Event
from tests.harness import processes
from tests.harness.poll import wait_until

REPO = Path(__file__).resolve().parents[3]
EXAMPLES = REPO / "examples" / "local"
EXIT_TIMEOUT = 60.0
OLD = "0" * 64


@dataclass
class Sluice:
    """One `sluice ...` process; its output goes to a log file read as it grows."""

    proc: subprocess.Popen
    log: Path

    def lines(self) -> list[str]:
        return self.log.read_text().splitlines() if self.log.exists() else []

    def wait_lines(self, count: int) -> list[str]:
        return wait_until(lambda: len(self.lines()) >= count and self.lines(), timeout=30,
                          what=f"{count} lines from {' '.join(map(str, self.proc.args[3:5]))}")

    def exit_code(self) -> int:
        return self.proc.wait(timeout=EXIT_TIMEOUT)


@dataclass
class World:
    state: Path
    tmp: Path
    started: list[subprocess.Popen] = field(default_factory=list)

    def sluice(self, *args: str) -> Sluice:
        log = self.tmp / f"sluice-{len(self.started)}.log"
        argv = processes.python_module("controller.cli.main", *args, "--state", str(self.state))
        proc = processes.start(argv, log)
        self.started.append(proc)
        return Sluice(proc, log)

    def run(self, *args: str) -> tuple[int, list[str]]:
        ran = self.sluice(*args)
        return ran.exit_code(), ran.lines()

    def revision(self) -> str:
        workload = LocalStore.open(self.state).get("Workload", "default", "podinfo")
        assert isinstance(workload, Workload)
        return spec_revision(workload.spec)


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    made = World(tmp_path / "state", tmp_path)
    code, output = made.run("apply", "-f", str(EXAMPLES))
    assert code == 0, output
    yield made
    for proc in made.started:
        processes.stop(proc)


def write(state: Path, status: CanaryStatus, event: str | None = None) -> None:
    """What one controller tick leaves behind: the status, and an event."""
    store = LocalStore.open(state)
    store.write_status(store.get_canary("default", "podinfo"), status)
    if event:
        store.record_event(Event("default", "podinfo", "Normal", "Synced", event))


class Controller(threading.Thread):
    """Plays `steps` into the store; before each, waits for `ready()` (e.g. the watcher's next line)."""

    def __init__(self, state: Path, steps: list[tuple[Callable[[], object], CanaryStatus]]) -> None:
        super().__init__(daemon=True)
        self.state, self.steps = state, steps
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            for ready, status in self.steps:
                wait_until(ready, timeout=30, what=f"the watcher before {status.phase}")
                write(self.state, status, status.last_reason)
        except BaseException as exc:  # reported by the test thread
            self.error = exc

    def finish(self) -> None:
        self.join(timeout=EXIT_TIMEOUT)
        assert not self.is_alive() and self.error is None, self.error


def run_status(revision: str, phase: str, weight: int = 0, step: int = 0, reason: str = "",
               **fields: object) -> CanaryStatus:
    return CanaryStatus.model_validate({
        "phase": phase, "canaryWeight": weight, "step": step, "totalSteps": 3, "lastAppliedSpec": revision,
        "lastPromotedSpec": OLD, "lastReason": reason, "rolloutStartedAt": "2026-11-29T12:00:00Z", **fields})


def test_wait_for_promoted_prints_each_phase_and_exits_0(world: World) -> None:
    rev = world.revision()
    write(world.state, run_status(rev, "Progressing", 20, 1, "advance canary weight 0 -> 20"))
    waiter = world.sluice("wait", "podinfo", "--for", "promoted", "--timeout", "60s")
    succeeded = run_status(rev, "Succeeded", reason="promotion finished", lastPromotedSpec=rev)
    controller = Controller(world.state, [
        (lambda: waiter.lines(), run_status(rev, "Progressing", 40, 2, "advance canary weight 20 -> 40")),
        (lambda: True, run_status(rev, "Progressing", 60, 3, "advance canary weight 40 -> 60")),
        (lambda: True, run_status(rev, "Promoting", 60, 3, "canary weight 60 reached max 60; promoting")),
        (lambda: len(waiter.lines()) >= 2, succeeded),
    ])
    controller.start()
    assert waiter.exit_code() == 0, waiter.lines()
    controller.finish()
    lines = waiter.lines()
    assert [line.split()[2] for line in lines[:-1]] == ["Progressing", "Promoting", "Succeeded"]
    assert lines[-1] == "podinfo promoted (Succeeded): promotion finished"


def test_watch_without_a_tty_prints_a_line_per_change_and_exits_1_on_rollback(world: World) -> None:
    rev = world.revision()
    write(world.state, run_status(rev, "Progressing", 20, 1, "advance canary weight 0 -> 20"))
    watcher = world.sluice("status", "podinfo", "--watch", "--timeout", "60s")
    failed_check = "request-success-rate 75% is below min 99%; failed checks 1/2"
    controller = Controller(world.state, [
        (lambda: len(watcher.lines()) >= 1,
         run_status(rev, "Progressing", 20, 1, failed_check, failedChecks=1)),
        (lambda: len(watcher.lines()) >= 2,
         run_status(rev, "Failed", 0, 0, "rolled back: request-success-rate 70% is below min 99%",
                    failedChecks=2)),
    ])
    controller.start()
    assert watcher.exit_code() == 1, watcher.lines()
    controller.finish()
    lines = watcher.lines()
    assert len(lines) == 4, lines
    assert lines[0].split()[1:9] == [
        "podinfo", "Progressing", "weight", "20/80", "step", "1/3", "failed", "0/2:"]
    assert lines[1].endswith(f"failed 1/2: {failed_check}")
    assert lines[2].split()[2:5] == ["Failed", "weight", "0/100"]
    assert lines[3] == "podinfo rolled back (Failed): rolled back: request-success-rate 70% is below min 99%"


def test_watch_exits_2_at_a_gate_and_promote_reaches_the_controller(world: World) -> None:
    rev = world.revision()
    gated = run_status(rev, "WaitingPromotion", 60, 3, 'waiting for confirm-promotion gate "approve"',
                       waitingFor="gate:confirm-promotion", waitingSince="2026-11-29T12:01:00Z")
    write(world.state, gated)
    code, lines = world.run("status", "podinfo", "--watch")
    assert code == 2, lines
    assert lines[-1] == ('podinfo is waiting for approval (gate:confirm-promotion): '
                         'waiting for confirm-promotion gate "approve"')

    waiter = world.sluice("wait", "podinfo", "--for", "promoted", "--timeout", "60s")
    store = LocalStore.open(world.state)
    taken: list[str] = []
    controller = Controller(world.state, [
        (lambda: taken.extend(store.take_commands("default", "podinfo")) or taken,
         run_status(rev, "Promoting", 60, 3, "promoted by a user, skipping the rest of the analysis")),
        (lambda: len(waiter.lines()) >= 2,
         run_status(rev, "Succeeded", reason="promotion finished", lastPromotedSpec=rev)),
    ])
    controller.start()
    waiter.wait_lines(1)
    code, lines = world.run("promote", "podinfo")
    assert code == 0
    assert lines[0].startswith("promote queued for canary default/podinfo (now WaitingPromotion)")
    assert waiter.exit_code() == 0, waiter.lines()
    controller.finish()
    assert taken == ["promote"]
    assert [line.split()[2] for line in waiter.lines()[:-1]] == ["WaitingPromotion", "Promoting", "Succeeded"]


def test_a_new_revision_is_followed_even_before_the_controller_picks_it_up(world: World) -> None:
    old = world.revision()
    write(world.state, CanaryStatus(phase="Succeeded", last_applied_spec=old, last_promoted_spec=old))
    v2 = (EXAMPLES / "workload.yaml").read_text().replace('"v1"', '"v2"')
    (world.tmp / "v2.yaml").write_text(v2)
    assert world.run("apply", "-f", str(world.tmp / "v2.yaml"))[0] == 0
    new = world.revision()
    assert new != old
    watcher = world.sluice("status", "podinfo", "--watch", "--timeout", "60s")
    controller = Controller(world.state, [
        (lambda: watcher.lines(), run_status(new, "Progressing", 20, 1, "new revision; advance to 20",
                                             lastPromotedSpec=old)),
        (lambda: len(watcher.lines()) >= 2, CanaryStatus(phase="Succeeded", last_applied_spec=new,
                                                         last_promoted_spec=new, last_reason="finalised")),
    ])
    controller.start()
    assert watcher.exit_code() == 0, watcher.lines()
    controller.finish()
    assert [line.split()[2] for line in watcher.lines()[:-1]] == ["Succeeded", "Progressing", "Succeeded"]


def test_timeout_exits_3(world: World) -> None:
    write(world.state, run_status(world.revision(), "Progressing", 20, 1, "advance canary weight 0 -> 20"))
    code, lines = world.run("wait", "podinfo", "--for", "phase=Succeeded", "--timeout", "1s")
    assert code == 3
    assert lines[-1] == "timed out after 1s; podinfo is Progressing: advance canary weight 0 -> 20"
    code, lines = world.run("status", "podinfo", "--watch", "--timeout", "1s")
    assert code == 3 and lines[-1].startswith("timed out after 1s")


def test_watch_on_a_terminal_redraws_the_card_and_exits_by_outcome(world: World) -> None:
    rev = world.revision()
    write(world.state, run_status(rev, "Progressing", 20, 1, "advance canary weight 0 -> 20"))
    primary, secondary = os.openpty()
    output = bytearray()
    proc = subprocess.Popen(
        processes.python_module("controller.cli.main", "status", "podinfo", "--watch", "--timeout", "60s",
                                "--state", str(world.state)),
        stdin=subprocess.DEVNULL, stdout=secondary, stderr=secondary, start_new_session=True,
        env={**os.environ, "TERM": "xterm", "COLUMNS": "120", "LINES": "50"},
    )
    world.started.append(proc)
    os.close(secondary)

    def read() -> None:
        while True:
            try:
                chunk = os.read(primary, 4096)
            except OSError:
                return
            if not chunk:
                return
            output.extend(chunk)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    controller = Controller(world.state, [
        (lambda: b"Name:" in output, run_status(rev, "Progressing", 40, 2, "advance canary weight 20 -> 40")),
        (lambda: b"2/3 steps" in output,
         run_status(rev, "Succeeded", reason="promotion finished", lastPromotedSpec=rev)),
    ])
    controller.start()
    assert proc.wait(timeout=EXIT_TIMEOUT) == 0
    controller.finish()
    reader.join(timeout=10)
    os.close(primary)
    text = output.decode(errors="replace")
    assert "\x1b[" in text  # drawn with escape sequences (colour, cursor moves)
    for seen in ("Status:", "1/3 steps · canary 20%", "2/3 steps · canary 40%", "3/3 steps · canary 0%",
                 "Ctrl-C to stop"):
        assert seen in text
    assert "podinfo promoted (Succeeded): promotion finished" in text
