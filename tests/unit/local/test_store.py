"""The SQLite store behaves like a small API server: versions, optimistic status writes, events, commands."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from controller.api.canary import Canary
from controller.api.status import CanaryStatus
from controller.api.workload import Workload
from controller.platforms.local.store import BeingDeleted, LocalStore
from controller.ports.store import Conflict, Event, NotFound


def canary(name: str = "podinfo", port: int = 9898) -> Canary:
    return Canary.model_validate(
        {
            "metadata": {"name": name},
            "spec": {"targetRef": {"kind": "Workload", "name": name}, "service": {"port": port},
                     "analysis": {"interval": "1s", "threshold": 1, "stepWeight": 50}},
        }
    )


def workload(name: str = "podinfo", version: str = "v1") -> Workload:
    return Workload.model_validate(
        {"metadata": {"name": name}, "spec": {"command": ["app", "--version", version]}}
    )


@pytest.fixture
def store(tmp_path: Path) -> LocalStore:
    return LocalStore.open(tmp_path / "state")


def test_apply_creates_then_reports_unchanged_then_configured(store: LocalStore) -> None:
    created, outcome = store.apply(workload())
    assert outcome == "created"
    assert created.metadata.resource_version == "1" and created.metadata.generation == 1
    assert store.apply(workload())[1] == "unchanged"
    updated, outcome = store.apply(workload(version="v2"))
    assert outcome == "configured"
    assert updated.metadata.resource_version == "2" and updated.metadata.generation == 2
    assert updated.spec.command[-1] == "v2"
    assert (store.state_dir() / "sluice.db").exists()


def test_state_folder_uses_wal(store: LocalStore) -> None:
    assert store.db.connection().execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_apply_all_is_all_or_nothing(store: LocalStore) -> None:
    store.apply(canary())
    store.delete("Canary", "default", "podinfo")
    with pytest.raises(BeingDeleted):
        store.apply_all([workload("other"), canary()])
    with pytest.raises(NotFound):
        store.get("Workload", "default", "other")


def test_write_status_is_optimistic(store: LocalStore) -> None:
    read, _ = store.apply(canary())
    written = store.write_status(read, CanaryStatus(phase="Initialized"))
    assert written.status.phase == "Initialized"
    assert int(written.metadata.resource_version) == int(read.metadata.resource_version) + 1
    with pytest.raises(Conflict):
        store.write_status(read, CanaryStatus(phase="Progressing"))
    assert store.get_canary("default", "podinfo").status.phase == "Initialized"


def test_spec_update_keeps_status_and_invalidates_stale_readers(store: LocalStore) -> None:
    read, _ = store.apply(canary())
    read = store.write_status(read, CanaryStatus(phase="Succeeded"))
    store.apply(canary(port=8080))
    current = store.get_canary("default", "podinfo")
    assert current.status.phase == "Succeeded" and current.spec.service.port == 8080
    with pytest.raises(Conflict):
        store.write_status(read, CanaryStatus(phase="Progressing"))


def test_write_status_of_a_missing_canary_is_not_found(store: LocalStore) -> None:
    with pytest.raises(NotFound):
        store.write_status(canary(), CanaryStatus())


def test_deleting_a_canary_marks_it_until_removed(store: LocalStore) -> None:
    store.apply(canary())
    store.apply(workload())
    assert store.delete("Canary", "default", "podinfo") == "marked"
    marked = store.get_canary("default", "podinfo")
    assert marked.wire()["metadata"]["deletionTimestamp"]
    assert [c.metadata.name for c in store.list_canaries()] == ["podinfo"]
    store.remove("Canary", "default", "podinfo")
    assert store.list_canaries() == []
    assert store.delete("Workload", "default", "podinfo") == "deleted"
    assert store.list() == []
    with pytest.raises(NotFound):
        store.delete("Workload", "default", "podinfo")


def test_list_filters_by_kind_and_namespace(store: LocalStore) -> None:
    store.apply_all([canary("a"), workload("a"), Workload.model_validate(
        {"metadata": {"name": "b", "namespace": "team"}, "spec": {"command": ["x"]}}
    )])
    assert [o.kind for o in store.list()] == ["Canary", "Workload", "Workload"]
    assert [o.metadata.name for o in store.list("Workload", "team")] == ["b"]


def test_events_keep_order_and_timestamps(store: LocalStore) -> None:
    store.record_event(Event("default", "podinfo", "Normal", "Synced", "Initialization done!"))
    at = "2026-01-01T00:00:00Z"
    store.record_event(Event("default", "podinfo", "Warning", "Synced", "Halt advancement", at))
    store.record_event(Event("default", "other", "Normal", "Synced", "elsewhere"))
    events = store.list_events("default", "podinfo")
    assert [e.message for e in events] == ["Initialization done!", "Halt advancement"]
    assert events[0].timestamp.endswith("Z") and events[1].timestamp == at


def test_commands_are_consumed_once(store: LocalStore) -> None:
    store.enqueue_command("default", "podinfo", "pause")
    store.enqueue_command("default", "podinfo", "promote")
    store.enqueue_command("default", "other", "abort")
    assert store.take_commands("default", "podinfo") == ["pause", "promote"]
    assert store.take_commands("default", "podinfo") == []
    assert store.take_commands("default", "other") == ["abort"]
    with pytest.raises(ValueError, match="unknown command"):
        store.enqueue_command("default", "podinfo", "explode")


def test_a_write_from_another_connection_wakes_a_waiter(tmp_path: Path) -> None:
    watcher = LocalStore.open(tmp_path)
    writer = LocalStore.open(tmp_path)
    since = watcher.changes()
    assert watcher.wait_for_change(since, timeout=0.05) == since
    seen: list[int] = []
    thread = threading.Thread(target=lambda: seen.append(watcher.wait_for_change(since, timeout=5)))
    thread.start()
    writer.apply(workload())
    thread.join(timeout=5)
    assert seen and seen[0] > since
