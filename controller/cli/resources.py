"""`sluice apply`, `get`, `delete` and `events`: the local store, driven like kubectl drives a cluster.

All four take `--state DIR` (else $SLUICE_STATE, else `.sluice`), the folder a running `sluice run` watches:
an apply is seen by the controller within a second. A refused apply writes nothing: every document is
checked (and names checked for duplicates) before the store is opened, and all are written in one
transaction.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import click
import yaml

from controller.api.base import Model
from controller.api.kinds import KINDS
from controller.api.loading import LoadResult, load_paths
from controller.api.problems import Problem
from controller.cli.options import files_option
from controller.platforms.local.database import DB_FILE, resolve_state_dir
from controller.platforms.local.store import BeingDeleted, LocalStore
from controller.ports.store import NotFound

state_option = click.option(
    "--state",
    "state_dir",
    type=click.Path(file_okay=False, path_type=Path),
    envvar="SLUICE_STATE",
    default=None,
    help="Local state folder (default: $SLUICE_STATE, else .sluice).",
)
namespace_option = click.option("-n", "--namespace", default="default", show_default=True)


def open_store(state_dir: Path | None, create: bool = False) -> LocalStore:
    """The store in the state folder; a read-only command on a folder with no state is an error."""
    folder = resolve_state_dir(state_dir)
    if not create and not (folder / DB_FILE).exists():
        raise click.ClickException(f"no sluice state in {folder}/ (apply something first, or pass --state)")
    return LocalStore.open(folder)


def resolve_kind(text: str) -> str:
    """`canary`, `Canary`, `canaries`, `workloads` ... -> the kind's name in KINDS."""
    wanted = text.lower()
    for kind in KINDS:
        lower = kind.lower()
        if wanted in (lower, lower + "s", lower[:-1] + "ies" if lower.endswith("y") else lower + "s"):
            return kind
    raise click.BadParameter(f"unknown kind {text!r} (one of {', '.join(KINDS)})", param_hint="KIND")


def age(timestamp: str | None, now: datetime | None = None) -> str:
    """`42s`, `5m`, `3h`, `2d` since an RFC 3339 timestamp; `-` when there is none."""
    if not timestamp:
        return "-"
    seconds = int(((now or datetime.now(UTC)) - datetime.fromisoformat(timestamp)).total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{max(seconds, 0)}s"


def table(rows: list[list[str]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ("   ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) for row in rows)
    return "\n".join(line.rstrip() for line in lines)


def _duplicates(result: LoadResult) -> list[Problem]:
    seen: dict[tuple[str, str, str], str] = {}
    problems = []
    for loaded in result.resources:
        meta = loaded.resource.metadata  # type: ignore[attr-defined]
        key = (loaded.resource.kind, meta.namespace, meta.name)  # type: ignore[attr-defined]
        where = f"{loaded.source}#{loaded.document}"
        if key in seen:
            problems.append(Problem(loaded.source, loaded.document, "metadata.name", f"same as {seen[key]}"))
        seen.setdefault(key, where)
    return problems


def _ref(obj: Model) -> str:
    meta = obj.metadata  # type: ignore[attr-defined]
    prefix = "" if meta.namespace == "default" else f"{meta.namespace}/"
    return f"{obj.kind.lower()}/{prefix}{meta.name}"  # type: ignore[attr-defined]


@click.command()
@files_option
@state_option
def apply(paths: tuple[Path, ...], state_dir: Path | None) -> None:
    """Create or update resources in the local store from YAML files or folders."""
    result = load_paths(paths)
    problems = result.problems + _duplicates(result)
    for problem in problems:
        click.echo(str(problem))
    if problems:
        click.echo(f"nothing applied: {len(problems)} problem{'s' * (len(problems) != 1)}", err=True)
        raise SystemExit(1)
    if not result.resources:
        raise click.ClickException(f"no sluice resources found in {', '.join(map(str, paths))}")
    store = open_store(state_dir, create=True)
    try:
        applied = store.apply_all([loaded.resource for loaded in result.resources])
    except BeingDeleted as exc:
        raise click.ClickException(f"nothing applied: {exc}") from None
    for obj, outcome in applied:
        click.echo(f"{_ref(obj)} {outcome}")


def _status_of(obj: Model) -> str:
    wire = obj.wire()
    if wire["metadata"].get("deletionTimestamp"):
        return "Terminating"
    return str((wire.get("status") or {}).get("phase") or "")


@click.command()
@click.argument("kind", required=False)
@click.argument("name", required=False)
@click.option("-n", "--namespace", default=None, help="Only this namespace (default: all).")
@click.option("-o", "--output", type=click.Choice(["table", "yaml", "json"]), default="table")
@state_option
def get(
    kind: str | None, name: str | None, namespace: str | None, output: str, state_dir: Path | None
) -> None:
    """List resources (all kinds, or one KIND), or show one by KIND and NAME."""
    store = open_store(state_dir)
    kind_name = resolve_kind(kind) if kind else None
    if name:
        assert kind_name is not None
        try:
            objs = [store.get(kind_name, namespace or "default", name)]
        except NotFound as exc:
            raise click.ClickException(str(exc)) from None
    else:
        objs = store.list(kind_name, namespace)
    if output == "table":
        if not objs:
            click.echo("No resources found.")
            return
        rows = [["KIND", "NAMESPACE", "NAME", "STATUS", "AGE"]]
        for obj in objs:
            meta = obj.metadata  # type: ignore[attr-defined]
            created = obj.wire()["metadata"].get("creationTimestamp")
            rows.append([obj.kind, meta.namespace, meta.name, _status_of(obj), age(created)])  # type: ignore[attr-defined]
        click.echo(table(rows))
        return
    items = [obj.wire() for obj in objs]
    document = items[0] if name else {"apiVersion": "v1", "kind": "List", "items": items}
    if output == "json":
        click.echo(json.dumps(document, indent=2))
    else:
        click.echo(yaml.safe_dump(document, sort_keys=False).rstrip())


@click.command()
@click.argument("kind")
@click.argument("name")
@namespace_option
@state_option
def delete(kind: str, name: str, namespace: str, state_dir: Path | None) -> None:
    """Delete a resource; a Canary is marked and the running controller cleans up and removes it."""
    store = open_store(state_dir)
    kind_name = resolve_kind(kind)
    try:
        outcome = store.delete(kind_name, namespace, name)
    except NotFound as exc:
        raise click.ClickException(str(exc)) from None
    ref = f"{kind_name.lower()}/{name}"
    if outcome == "marked":
        click.echo(f"{ref} marked for deletion (the controller finalizes it)")
    else:
        click.echo(f"{ref} deleted")


@click.command()
@click.argument("name")
@namespace_option
@state_option
def events(name: str, namespace: str, state_dir: Path | None) -> None:
    """The events of a canary, oldest first, with their timestamps."""
    store = open_store(state_dir)
    recorded = store.list_events(namespace, name)
    if not recorded:
        click.echo(f"No events for {namespace}/{name}.")
        return
    rows = [["TIME", "AGE", "TYPE", "REASON", "MESSAGE"]]
    rows += [[e.timestamp, age(e.timestamp), e.type, e.reason, e.message] for e in recorded]
    click.echo(table(rows))
