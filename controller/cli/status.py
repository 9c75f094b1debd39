"""`sluice status`: every canary as a table, one canary in detail, or one rollout followed live.

`--watch` redraws the detail card with rich's Live on a terminal; on a pipe (CI logs) it prints one line
per change instead, since a redrawn screen is unreadable there. Either way it exits when the rollout ends,
with the code `sluice wait` uses (see controller.cli.wait), so a script can both show and gate on it.
"""

from __future__ import annotations

import json
from collections.abc import Hashable
from datetime import UTC, datetime
from pathlib import Path

import click
import yaml
from rich.console import Console
from rich.live import Live

from controller.cli.backend import Snapshot, StatusBackend, backend_options, open_backend, take_snapshot
from controller.cli.status_view import (
    detail,
    detail_record,
    ending,
    record,
    status_of,
    status_table,
    to_text,
    watch_card,
)
from controller.cli.wait import DurationType, LinePrinter, follow, watch_outcome
from controller.ports.store import NotFound

# Lines are not wrapped for a pipe: a log viewer wraps them better than a guessed width would.
PIPE_WIDTH = 200


def _dump(document: object, output: str) -> str:
    if output == "json":
        return json.dumps(document, indent=2)
    return yaml.safe_dump(document, sort_keys=False).rstrip()


def watch_key(snap: Snapshot) -> Hashable:
    """What makes a new line in a non-terminal watch: anything the controller decided."""
    s = status_of(snap.canary)
    return (s.phase, s.paused, s.canary_weight, s.step, s.failed_checks, s.waiting_for, s.last_reason)


def _watch(
    backend: StatusBackend, namespace: str, name: str, output: str, timeout: float | None, events: int
) -> int:
    console = Console()
    if output in ("json", "yaml"):
        code, last = follow(backend, namespace, name, watch_outcome,
                            LinePrinter(watch_key, lambda snap: json.dumps(detail_record(snap, events))),
                            timeout)
    elif console.is_terminal:
        with Live(console=console, auto_refresh=False, redirect_stdout=False) as live:
            def redraw(snap: Snapshot) -> None:
                live.update(watch_card(snap, events), refresh=True)

            code, last = follow(backend, namespace, name, watch_outcome, redraw, timeout)
    else:
        code, last = follow(backend, namespace, name, watch_outcome, LinePrinter(watch_key), timeout)
    click.echo(ending(code, last, timeout))
    return code


@click.command()
@click.argument("name", required=False)
@click.option("-A", "--all-namespaces", is_flag=True, help="List canaries of every namespace.")
@click.option("-o", "--output", type=click.Choice(["table", "wide", "json", "yaml"]), default="table",
              help="wide adds STRATEGY, INTERVAL, LAST REASON; json/yaml give the structured data.")
@click.option("-w", "--watch", is_flag=True,
              help="Follow NAME live until the rollout ends: exit 0 promoted, 1 rolled back, "
                   "2 waiting for approval, 3 timeout.")
@click.option("--timeout", type=DurationType(), default=None, help="With --watch: give up after this long.")
@click.option("--events", "event_count", type=click.IntRange(min=0), default=10, show_default=True,
              help="Events shown in the detail.")
@backend_options
def status(
    name: str | None,
    all_namespaces: bool,
    output: str,
    watch: bool,
    timeout: float | None,
    event_count: int,
    namespace: str,
    state_dir: Path | None,
) -> None:
    """Rollouts at a glance (a table), or one canary in detail (NAME), or live (NAME --watch)."""
    backend = open_backend(state_dir)
    if name is None:
        if watch:
            raise click.UsageError("--watch follows one rollout: give its NAME")
        _list(backend, None if all_namespaces else namespace, output)
        return
    if watch:
        raise SystemExit(_watch(backend, namespace, name, output, timeout, event_count))
    try:
        snap = take_snapshot(backend, namespace, name)
    except NotFound:
        raise click.ClickException(f"canary {namespace}/{name} not found") from None
    if output in ("json", "yaml"):
        click.echo(_dump(detail_record(snap, event_count), output))
    elif (console := Console()).is_terminal:
        console.print(detail(snap, event_count))
    else:
        click.echo(to_text(detail(snap, event_count), PIPE_WIDTH))


def _list(backend: StatusBackend, namespace: str | None, output: str) -> None:
    canaries = backend.list_canaries(namespace)
    if output in ("json", "yaml"):
        click.echo(_dump({"items": [record(canary) for canary in canaries]}, output))
        return
    if not canaries:
        where = "any namespace" if namespace is None else f"namespace {namespace}"
        click.echo(f"No canaries found in {where}.")
        return
    now = datetime.now(UTC)
    click.echo(status_table(canaries, now, wide=output == "wide", namespaces=namespace is None))
