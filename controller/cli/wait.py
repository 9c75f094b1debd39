"""`sluice wait`, and the rules for "has the rollout ended, and how" that `status --watch` shares with it.

CI needs an exit code, not a screen. Argo Rollouts' `get --watch` never exits (its issue #1172) and its
`status` has no outcome for "waiting for approval" (#1389); sluice's watch and wait exit by outcome:
0 reached (promoted), 1 ended otherwise (rolled back), 2 waiting for approval (watch only), 3 timeout.

A finished status can be stale: right after `sluice apply` of a new revision the canary still says
Succeeded (from the last run) until the controller's next tick. A snapshot whose target revision is new to
the status (the engine's own `is_new_revision`) is *pending* and never counts as an end.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from pathlib import Path
from typing import get_args

import click

from controller.api.durations import parse_duration
from controller.api.status import Phase
from controller.cli.backend import Snapshot, StatusBackend, backend_options, open_backend, take_snapshot
from controller.cli.status_view import change_line, ending, status_of
from controller.engine.revisions import is_new_revision
from controller.ports.store import NotFound

EXIT_REACHED = 0
EXIT_ENDED_OTHERWISE = 1
EXIT_WAITING_APPROVAL = 2
EXIT_TIMEOUT = 3
EXIT_INTERRUPTED = 130  # Ctrl-C, as a shell reports SIGINT; never mistaken for an outcome

# Nothing more happens in these phases until the target gets a new revision (or the canary goes).
ENDED: frozenset[str] = frozenset({"Initialized", "Succeeded", "Failed", "Terminated"})
# The Promoted condition is True: the primary runs the latest revision and serves all traffic (after a
# first deploy there is nothing to roll out; Flagger's `kubectl wait --for=condition=promoted` agrees).
PROMOTED: frozenset[str] = frozenset({"Initialized", "Succeeded"})
REFRESH_SECONDS = 1.0


@dataclass(frozen=True)
class _Revision:
    spec_hash: str
    tracked_configs: dict[str, str] = field(default_factory=dict)


def pending(snap: Snapshot) -> bool:
    """The target has a revision the controller has not started a run for yet."""
    if snap.target_revision is None:
        return False
    status = status_of(snap.canary)
    # Config checksums are the controller's to observe; compare the spec hash alone.
    return is_new_revision(status, _Revision(snap.target_revision, dict(status.tracked_configs or {})))


def waiting_for_approval(snap: Snapshot) -> bool:
    status = status_of(snap.canary)
    return status.phase == "WaitingPromotion" or (status.waiting_for or "").startswith("gate:")


def watch_outcome(snap: Snapshot) -> int | None:
    """`status --watch`: 0 promoted, 1 rolled back (or deleted), 2 waiting for approval, None: go on."""
    if pending(snap):
        return None
    phase = status_of(snap.canary).phase
    if phase in PROMOTED:
        return EXIT_REACHED
    if phase in ENDED:
        return EXIT_ENDED_OTHERWISE
    return EXIT_WAITING_APPROVAL if waiting_for_approval(snap) else None


def wait_outcome(targets: frozenset[str], snap: Snapshot) -> int | None:
    """`wait --for`: 0 in one of the `targets` phases, 1 ended in another phase, None: go on."""
    if pending(snap):
        return None
    phase = status_of(snap.canary).phase
    if phase in targets:
        return EXIT_REACHED
    return EXIT_ENDED_OTHERWISE if phase in ENDED else None


def follow(
    backend: StatusBackend,
    namespace: str,
    name: str,
    decide: Callable[[Snapshot], int | None],
    show: Callable[[Snapshot], None],
    timeout: float | None = None,
    refresh: float = REFRESH_SECONDS,
    clock: Callable[[], float] = time.monotonic,
) -> tuple[int, Snapshot]:
    """Show each snapshot until `decide` returns an exit code or `timeout` passes (EXIT_TIMEOUT).

    A new snapshot is taken when the backend reports a change, or every `refresh` seconds (live weights
    and ages move without one). Returns the code and the last snapshot; Ctrl-C exits EXIT_INTERRUPTED.
    """
    deadline = None if timeout is None else clock() + timeout
    seen = False
    try:
        while True:
            since = backend.changes()
            try:
                snap = take_snapshot(backend, namespace, name)
            except NotFound:
                gone = "was deleted" if seen else "not found"
                raise click.ClickException(f"canary {namespace}/{name} {gone}") from None
            seen = True
            show(snap)
            code = decide(snap)
            if code is not None:
                return code, snap
            left = None if deadline is None else deadline - clock()
            if left is not None and left <= 0:
                return EXIT_TIMEOUT, snap
            backend.wait_for_change(since, refresh if left is None else min(refresh, left))
    except KeyboardInterrupt:
        raise SystemExit(EXIT_INTERRUPTED) from None


class LinePrinter:
    """Print a line for a snapshot whenever `key` of it differs from the last one printed."""

    def __init__(
        self,
        key: Callable[[Snapshot], Hashable],
        line: Callable[[Snapshot], str] = change_line,
        echo: Callable[[str], None] = click.echo,
    ) -> None:
        self.key = key
        self.line = line
        self.echo = echo
        self.last: Hashable = object()

    def __call__(self, snap: Snapshot) -> None:
        key = self.key(snap)
        if key != self.last:
            self.echo(self.line(snap))
            self.last = key


class DurationType(click.ParamType):
    name = "duration"

    def convert(self, value: object, param: click.Parameter | None, ctx: click.Context | None) -> float:
        if isinstance(value, int | float):
            return float(value)
        try:
            return parse_duration(str(value))
        except ValueError as error:
            self.fail(str(error), param, ctx)


PHASES = [phase for phase in get_args(Phase) if phase]


class GoalType(click.ParamType):
    """`promoted`, `failed` or `phase=P`: the phases that reach the goal."""

    name = "promoted|failed|phase=P"

    def convert(
        self, value: object, param: click.Parameter | None, ctx: click.Context | None
    ) -> frozenset[str]:
        if isinstance(value, frozenset):
            return value
        text = str(value)
        named = {"promoted": PROMOTED, "failed": frozenset({"Failed"})}
        if text.lower() in named:
            return named[text.lower()]
        if text.startswith("phase="):
            wanted = text.removeprefix("phase=")
            match = next((p for p in PHASES if p.lower() == wanted.lower()), None)
            if match:
                return frozenset({match})
            self.fail(f"unknown phase {wanted!r} (one of {', '.join(PHASES)})", param, ctx)
        self.fail(f"{text!r}: use promoted, failed or phase=P", param, ctx)


def phase_key(snap: Snapshot) -> Hashable:
    return status_of(snap.canary).phase


@click.command()
@click.argument("name")
@click.option("--for", "goal", type=GoalType(), required=True,
              help="promoted (Succeeded, or Initialized on a first deploy), failed (Failed), "
                   "or phase=P for any phase.")
@click.option("--timeout", type=DurationType(), default="10m", show_default=True,
              help="Give up after this long (e.g. 90s, 5m); exit code 3.")
@backend_options
def wait(name: str, goal: frozenset[str], timeout: float, namespace: str, state_dir: Path | None) -> None:
    """Block until a canary reaches a phase, for CI: exit 0 reached, 1 ended otherwise, 3 timeout.

    Prints one line per phase change.
    """
    backend = open_backend(state_dir)
    code, last = follow(backend, namespace, name, lambda snap: wait_outcome(goal, snap),
                        LinePrinter(phase_key), timeout)
    click.echo(ending(code, last, timeout))
    raise SystemExit(code)
