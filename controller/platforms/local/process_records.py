"""What the supervisor runs, written down in the state database so a restarted controller can adopt it.

A group is one role of one workload (`podinfo` primary, `podinfo` canary) with its desired spec and
revision; a process row is one replica slot with the PID, start time and command line needed to recognise
the process later (see processes.py).
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass

from controller.platforms.local.database import Database


@dataclass(frozen=True, order=True)
class GroupKey:
    namespace: str
    name: str
    role: str

    def __str__(self) -> str:
        return f"{self.namespace}/{self.name}-{self.role}"


@dataclass(frozen=True)
class GroupRecord:
    key: GroupKey
    revision: str
    spec: dict
    since: float


@dataclass(frozen=True)
class ProcessRecord:
    key: GroupKey
    index: int
    revision: str
    pid: int
    port: int
    argv: list[str]
    start_ticks: int
    started: float


class ProcessRecords:
    def __init__(self, db: Database) -> None:
        self.db = db

    def save_group(self, record: GroupRecord) -> None:
        k = record.key
        with self.db.write() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO process_groups (namespace, name, role, revision, spec, since)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (k.namespace, k.name, k.role, record.revision, json.dumps(record.spec), record.since),
            )

    def delete_group(self, key: GroupKey) -> None:
        with self.db.write() as conn:
            conn.execute(
                "DELETE FROM process_groups WHERE namespace=? AND name=? AND role=?",
                (key.namespace, key.name, key.role),
            )

    def groups(self) -> list[GroupRecord]:
        rows = self.db.connection().execute("SELECT * FROM process_groups").fetchall()
        return [
            GroupRecord(_key(r), r["revision"], json.loads(r["spec"]), r["since"])
            for r in rows
        ]

    def save_process(self, record: ProcessRecord) -> None:
        k = record.key
        with self.db.write() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO processes (namespace, name, role, idx, revision, pid, port, argv,"
                " start_ticks, started) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (k.namespace, k.name, k.role, record.index, record.revision, record.pid, record.port,
                 json.dumps(record.argv), record.start_ticks, record.started),
            )

    def delete_process(self, key: GroupKey, index: int) -> None:
        with self.db.write() as conn:
            conn.execute(
                "DELETE FROM processes WHERE namespace=? AND name=? AND role=? AND idx=?",
                (key.namespace, key.name, key.role, index),
            )

    def processes(self) -> list[ProcessRecord]:
        rows = self.db.connection().execute("SELECT * FROM processes ORDER BY idx").fetchall()
        return [
            ProcessRecord(
                _key(r), r["idx"], r["revision"], r["pid"], r["port"],
                json.loads(r["argv"]), r["start_ticks"], r["started"],
            )
            for r in rows
        ]


def _key(row: sqlite3.Row) -> GroupKey:
    return GroupKey(row["namespace"], row["name"], row["role"])
