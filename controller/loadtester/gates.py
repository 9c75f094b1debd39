"""Manual gates: an in-memory open/closed flag per canary, keyed `name.namespace` as in Flagger.

A gate is closed until opened; the loadtester keeps one map for confirm gates and one for rollback.
State is deliberately not persisted (Flagger's loadtester forgets on restart, and a restart closes gates,
which is the safe direction).
"""

from __future__ import annotations

import threading


def gate_key(name: str, namespace: str) -> str:
    return f"{name}.{namespace}"


class Gates:
    def __init__(self) -> None:
        self._open: set[str] = set()
        self._lock = threading.Lock()

    def open(self, key: str) -> None:
        with self._lock:
            self._open.add(key)

    def close(self, key: str) -> None:
        with self._lock:
            self._open.discard(key)

    def is_open(self, key: str) -> bool:
        with self._lock:
            return key in self._open
