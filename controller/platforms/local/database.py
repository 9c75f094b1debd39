"""The local state folder and its SQLite database.

Local mode keeps everything (resources, status, events, manual commands, the processes it runs) in one
SQLite file under a state folder, so the CLI and a running controller are two processes sharing one
database. WAL mode lets readers (the CLI) run while the controller writes; a busy timeout turns short
write contention into waiting instead of errors. sqlite3 connections must not cross threads, so each
thread gets its own.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

DEFAULT_STATE_DIR = ".sluice"
STATE_ENV = "SLUICE_STATE"
DB_FILE = "sluice.db"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS resources (
    kind TEXT NOT NULL,
    namespace TEXT NOT NULL,
    name TEXT NOT NULL,
    metadata TEXT NOT NULL,
    spec TEXT NOT NULL,
    status TEXT,
    resource_version INTEGER NOT NULL,
    generation INTEGER NOT NULL,
    created TEXT NOT NULL,
    updated TEXT NOT NULL,
    deleted TEXT,
    PRIMARY KEY (kind, namespace, name)
);
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    namespace TEXT NOT NULL,
    name TEXT NOT NULL,
    timestamp TEXT NOT NULL,
    type TEXT NOT NULL,
    reason TEXT NOT NULL,
    message TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_by_object ON events (namespace, name, id);
CREATE TABLE IF NOT EXISTS commands (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    namespace TEXT NOT NULL,
    name TEXT NOT NULL,
    command TEXT NOT NULL,
    created TEXT NOT NULL,
    consumed TEXT
);
CREATE TABLE IF NOT EXISTS counters (
    name TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
INSERT OR IGNORE INTO counters (name, value) VALUES ('changes', 0);
CREATE TABLE IF NOT EXISTS process_groups (
    namespace TEXT NOT NULL,
    name TEXT NOT NULL,
    role TEXT NOT NULL,
    revision TEXT NOT NULL,
    spec TEXT NOT NULL,
    since REAL NOT NULL,
    PRIMARY KEY (namespace, name, role)
);
CREATE TABLE IF NOT EXISTS processes (
    namespace TEXT NOT NULL,
    name TEXT NOT NULL,
    role TEXT NOT NULL,
    idx INTEGER NOT NULL,
    revision TEXT NOT NULL,
    pid INTEGER NOT NULL,
    port INTEGER NOT NULL,
    argv TEXT NOT NULL,
    start_ticks INTEGER NOT NULL,
    started REAL NOT NULL,
    PRIMARY KEY (namespace, name, role, idx)
);
"""


def resolve_state_dir(option: str | os.PathLike | None = None) -> Path:
    """`--state DIR` if given, else $SLUICE_STATE, else `.sluice` in the working directory."""
    return Path(option or os.environ.get(STATE_ENV) or DEFAULT_STATE_DIR)


def utc_now() -> str:
    """RFC 3339 UTC with milliseconds: sorts as text and reads well in an events timeline."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class Database:
    def __init__(self, state_dir: Path) -> None:
        self.state_dir = Path(state_dir)
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.path = self.state_dir / DB_FILE
        self._local = threading.local()
        self.connection().executescript(_SCHEMA)

    def connection(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, isolation_level=None, timeout=10.0)
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            self._local.conn = conn
        return conn

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction, taken up front so read-then-write sequences cannot interleave."""
        conn = self.connection()
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def bump_changes(self, conn: sqlite3.Connection) -> None:
        conn.execute("UPDATE counters SET value = value + 1 WHERE name = 'changes'")

    def changes(self) -> int:
        row = self.connection().execute("SELECT value FROM counters WHERE name = 'changes'").fetchone()
        return int(row[0])

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None
