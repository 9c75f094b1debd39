"""The local Store: resources, status, events and manual commands in the state folder's SQLite database.

It behaves like a small Kubernetes API server so the controller cannot tell the difference:
- every write to an object bumps its integer resourceVersion; `generation` counts spec changes only;
- status is written with optimistic concurrency (`Conflict` when the object changed since it was read);
- deleting a Canary only marks it (`metadata.deletionTimestamp`), like a finalizer: the controller cleans
  up (reverts the target, stops processes) and then calls `remove`; other kinds go at once;
- a change counter, bumped by every resource or command write, lets a running controller notice changes
  made by `sluice apply` from another process within a second (`wait_for_change`).
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Literal

from controller.api.base import Model
from controller.api.canary import Canary
from controller.api.kinds import KINDS
from controller.api.status import CanaryStatus
from controller.platforms.local.database import Database, utc_now
from controller.platforms.local.revision import as_written, canonical_json
from controller.ports.store import Conflict, Event, NotFound

COMMANDS = ("promote", "abort", "pause", "resume", "retry")
ApplyOutcome = Literal["created", "configured", "unchanged"]

# Metadata the store sets itself; whatever a manifest says about them is ignored.
_SERVER_METADATA = ("resourceVersion", "generation", "creationTimestamp", "deletionTimestamp")


class BeingDeleted(Exception):
    """An apply hit an object that is marked for deletion and still being cleaned up."""


class LocalStore:
    """Implements controller.ports.store.Store, plus generic resource access for the CLI and the platform."""

    def __init__(self, db: Database, clock: Callable[[], str] = utc_now) -> None:
        self.db = db
        self._clock = clock

    @classmethod
    def open(cls, state_dir: Path) -> LocalStore:
        return cls(Database(state_dir))

    def state_dir(self) -> Path:
        return self.db.state_dir

    # -- generic resources -------------------------------------------------------------------------------

    def apply(self, obj: Model) -> tuple[Model, ApplyOutcome]:
        """Create or update one object's metadata and spec (status is left alone)."""
        return self.apply_all([obj])[0]

    def apply_all(self, objs: Sequence[Model]) -> list[tuple[Model, ApplyOutcome]]:
        """Apply several objects in one transaction: all of them are written, or none."""
        outcomes: list[tuple[str, str, str, ApplyOutcome]] = []
        with self.db.write() as conn:
            for obj in objs:
                outcomes.append(self._apply_one(conn, obj))
            if any(outcome != "unchanged" for *_, outcome in outcomes):
                self.db.bump_changes(conn)
        return [(self.get(kind, ns, name), outcome) for kind, ns, name, outcome in outcomes]

    def _apply_one(self, conn: sqlite3.Connection, obj: Model) -> tuple[str, str, str, ApplyOutcome]:
        wire = as_written(obj)
        kind, ns, name = obj.kind, obj.metadata.namespace, obj.metadata.name  # type: ignore[attr-defined]
        meta = {k: v for k, v in wire["metadata"].items() if k not in (*_SERVER_METADATA, "namespace")}
        meta_json, spec_json = canonical_json(meta), canonical_json(wire["spec"])
        row = conn.execute(
            "SELECT metadata, spec, deleted FROM resources WHERE kind=? AND namespace=? AND name=?",
            (kind, ns, name),
        ).fetchone()
        now = self._clock()
        if row is None:
            conn.execute(
                "INSERT INTO resources (kind, namespace, name, metadata, spec, status, resource_version,"
                " generation, created, updated) VALUES (?, ?, ?, ?, ?, NULL, 1, 1, ?, ?)",
                (kind, ns, name, meta_json, spec_json, now, now),
            )
            return kind, ns, name, "created"
        if row["deleted"]:
            raise BeingDeleted(f"{kind} {ns}/{name} is being deleted; apply it again once it is gone")
        if row["metadata"] == meta_json and row["spec"] == spec_json:
            return kind, ns, name, "unchanged"
        conn.execute(
            "UPDATE resources SET metadata=?, spec=?, resource_version=resource_version+1,"
            " generation=generation+(spec != ?), updated=? WHERE kind=? AND namespace=? AND name=?",
            (meta_json, spec_json, spec_json, now, kind, ns, name),
        )
        return kind, ns, name, "configured"

    def get(self, kind: str, namespace: str, name: str) -> Model:
        row = self.db.connection().execute(
            "SELECT * FROM resources WHERE kind=? AND namespace=? AND name=?", (kind, namespace, name)
        ).fetchone()
        if row is None:
            raise NotFound(f"{kind} {namespace}/{name} not found")
        return _to_model(row)

    def list(self, kind: str | None = None, namespace: str | None = None) -> list[Model]:
        query, params = "SELECT * FROM resources WHERE 1=1", []
        if kind is not None:
            query, params = query + " AND kind=?", [*params, kind]
        if namespace is not None:
            query, params = query + " AND namespace=?", [*params, namespace]
        rows = self.db.connection().execute(query + " ORDER BY kind, namespace, name", params).fetchall()
        return [_to_model(row) for row in rows]

    def delete(self, kind: str, namespace: str, name: str) -> Literal["marked", "deleted"]:
        """Canaries are marked for the controller to finalize; everything else is removed at once."""
        if kind != "Canary":
            self.remove(kind, namespace, name)
            return "deleted"
        with self.db.write() as conn:
            cursor = conn.execute(
                "UPDATE resources SET deleted=COALESCE(deleted, ?), resource_version=resource_version+1"
                " WHERE kind=? AND namespace=? AND name=?",
                (self._clock(), kind, namespace, name),
            )
            if cursor.rowcount == 0:
                raise NotFound(f"{kind} {namespace}/{name} not found")
            self.db.bump_changes(conn)
        return "marked"

    def remove(self, kind: str, namespace: str, name: str) -> None:
        with self.db.write() as conn:
            cursor = conn.execute(
                "DELETE FROM resources WHERE kind=? AND namespace=? AND name=?", (kind, namespace, name)
            )
            if cursor.rowcount == 0:
                raise NotFound(f"{kind} {namespace}/{name} not found")
            self.db.bump_changes(conn)

    # -- the Store port ----------------------------------------------------------------------------------

    def list_canaries(self, namespace: str | None = None) -> list[Canary]:
        return self.list("Canary", namespace)  # type: ignore[return-value]

    def get_canary(self, namespace: str, name: str) -> Canary:
        return self.get("Canary", namespace, name)  # type: ignore[return-value]

    def write_status(self, canary: Canary, status: CanaryStatus) -> Canary:
        ns, name = canary.metadata.namespace, canary.metadata.name
        expected = int(canary.metadata.resource_version or 0)
        with self.db.write() as conn:
            cursor = conn.execute(
                "UPDATE resources SET status=?, resource_version=resource_version+1, updated=?"
                " WHERE kind='Canary' AND namespace=? AND name=? AND resource_version=?",
                (canonical_json(as_written(status)), self._clock(), ns, name, expected),
            )
            if cursor.rowcount == 0:
                exists = conn.execute(
                    "SELECT resource_version FROM resources WHERE kind='Canary' AND namespace=? AND name=?",
                    (ns, name),
                ).fetchone()
                if exists is None:
                    raise NotFound(f"Canary {ns}/{name} not found")
                raise Conflict(f"Canary {ns}/{name} is at resourceVersion {exists[0]}, read at {expected}")
            self.db.bump_changes(conn)
        return self.get_canary(ns, name)

    def record_event(self, event: Event) -> None:
        with self.db.write() as conn:
            conn.execute(
                "INSERT INTO events (namespace, name, timestamp, type, reason, message) VALUES (?,?,?,?,?,?)",
                (event.namespace, event.name, event.timestamp or self._clock(), event.type, event.reason,
                 event.message),
            )

    def list_events(self, namespace: str, name: str) -> list[Event]:
        rows = self.db.connection().execute(
            "SELECT namespace, name, timestamp, type, reason, message FROM events"
            " WHERE namespace=? AND name=? ORDER BY id", (namespace, name)
        ).fetchall()
        return [Event(ns, nm, type_, reason, message, ts) for ns, nm, ts, type_, reason, message in rows]

    # -- manual commands ---------------------------------------------------------------------------------

    def enqueue_command(self, namespace: str, name: str, command: str) -> None:
        """Queue `promote|abort|pause|resume|retry` for a canary; the controller takes each one once."""
        if command not in COMMANDS:
            raise ValueError(f"unknown command {command!r} (one of: {', '.join(COMMANDS)})")
        with self.db.write() as conn:
            conn.execute(
                "INSERT INTO commands (namespace, name, command, created) VALUES (?, ?, ?, ?)",
                (namespace, name, command, self._clock()),
            )
            self.db.bump_changes(conn)

    def take_commands(self, namespace: str, name: str) -> list[str]:
        """The canary's pending commands, oldest first, each marked consumed so it is never returned again."""
        with self.db.write() as conn:
            rows = conn.execute(
                "SELECT id, command FROM commands"
                " WHERE namespace=? AND name=? AND consumed IS NULL ORDER BY id",
                (namespace, name),
            ).fetchall()
            conn.executemany(
                "UPDATE commands SET consumed=? WHERE id=?", [(self._clock(), row["id"]) for row in rows]
            )
        return [row["command"] for row in rows]

    # -- noticing changes --------------------------------------------------------------------------------

    def changes(self) -> int:
        """A counter that grows with every resource or command write (from any process)."""
        return self.db.changes()

    def wait_for_change(self, since: int, timeout: float, poll: float = 0.1) -> int:
        """Block until the counter moves past `since` or `timeout` passes; return the counter either way."""
        deadline = time.monotonic() + timeout
        while True:
            current = self.changes()
            if current != since or time.monotonic() >= deadline:
                return current
            time.sleep(min(poll, max(deadline - time.monotonic(), 0)))


def _to_model(row: sqlite3.Row) -> Model:
    kind = row["kind"]
    metadata = {
        **json.loads(row["metadata"]),
        "namespace": row["namespace"],
        "resourceVersion": str(row["resource_version"]),
        "generation": row["generation"],
        "creationTimestamp": row["created"],
    }
    if row["deleted"]:
        metadata["deletionTimestamp"] = row["deleted"]
    wire: dict = {"apiVersion": _api_version(kind), "kind": kind, "metadata": metadata}
    wire["spec"] = json.loads(row["spec"])
    if row["status"]:
        wire["status"] = json.loads(row["status"])
    return KINDS[kind].model_validate(wire)


def _api_version(kind: str) -> str:
    return KINDS[kind].model_fields["api_version"].default
