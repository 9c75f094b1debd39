"""The list+watch loop against a scripted API: events land in the store, 410 Gone lists again, a missing
API group is reported as not installed (and counts as synced), one version per group is watched."""

from __future__ import annotations

import threading
from typing import Any

from mesh.control.watch import RESOURCES, ApiError, Store, Watcher


def obj(name: str, version: str, **extra: Any) -> dict[str, Any]:
    return {"metadata": {"name": name, "namespace": "shop", "resourceVersion": version}, **extra}


class ScriptedApi:
    """GETs answered from `lists` (one per LIST) and `groups`; WATCHes replay `watches` in order."""

    def __init__(
        self, lists: list[list[dict]], watches: list[list[dict]], groups: dict | None = None
    ) -> None:
        self.lists, self.watches, self.groups = list(lists), list(watches), groups or {}
        self.paths: list[str] = []
        self.done = threading.Event()

    def get(self, path: str, **query: Any) -> dict[str, Any]:
        self.paths.append(path)
        if path.startswith("/apis/") and path.count("/") == 2:  # discovery of a group
            if path not in self.groups:
                raise ApiError(404, "not found")
            return self.groups[path]
        items = self.lists.pop(0)
        return {"metadata": {"resourceVersion": str(len(self.paths))}, "items": items}

    def watch(self, path: str, query: dict[str, Any], timeout: float):
        self.paths.append(f"WATCH {path}?rv={query['resourceVersion']}")
        if not self.watches:
            self.done.set()
            threading.Event().wait(timeout)  # an idle watch: the server would end it after its timeout
            return
        yield from self.watches.pop(0)


SERVICES = next(r for r in RESOURCES if r.plural == "services")
SPLITS = next(r for r in RESOURCES if r.plural == "trafficsplits")


def run(api: ScriptedApi, resource, store: Store) -> Watcher:
    watcher = Watcher(api, resource, store, watch_seconds=1)  # type: ignore[arg-type]
    watcher.start()
    assert api.done.wait(10), api.paths
    watcher.stop()
    return watcher


def test_events_are_applied_and_410_gone_lists_again():
    api = ScriptedApi(
        lists=[[obj("a", "1")], [obj("a", "5"), obj("c", "6")]],
        watches=[
            [{"type": "ADDED", "object": obj("b", "2")}, {"type": "BOOKMARK", "object": obj("", "3")},
             {"type": "DELETED", "object": obj("a", "4")}],
            [{"type": "ERROR", "object": {"code": 410, "message": "too old resource version"}}],
        ],
    )  # fmt: skip
    changes: list[int] = []
    store = Store(lambda: changes.append(1))
    watcher = run(api, SERVICES, store)
    assert watcher.lists == 2 and watcher.synced.is_set()
    assert sorted(store.copy()["services"]) == [("shop", "a"), ("shop", "c")]  # the relist's truth
    assert store.copy()["services"][("shop", "a")]["kind"] == "Service"  # list items get their kind
    assert api.paths[:3] == ["/api/v1/services", "WATCH /api/v1/services?rv=1", "WATCH /api/v1/services?rv=4"]
    assert api.paths[3] == "/api/v1/services"  # 410: LIST again
    assert len(changes) >= 4


def test_the_preferred_served_version_is_watched_once():
    groups = {"/apis/split.smi-spec.io": {
        "versions": [{"version": v} for v in ("v1alpha1", "v1alpha2", "v1alpha3", "v1alpha4")],
        "preferredVersion": {"version": "v1alpha4"}}}  # fmt: skip
    api = ScriptedApi(lists=[[obj("podinfo", "1", spec={"service": "podinfo"})]], watches=[], groups=groups)
    store = Store()
    watcher = run(api, SPLITS, store)
    assert watcher.version == "v1alpha4" and watcher.state == "watching"
    assert api.paths[1] == "/apis/split.smi-spec.io/v1alpha4/trafficsplits"
    assert store.copy()["traffic_splits"][("shop", "podinfo")]["apiVersion"] == "split.smi-spec.io/v1alpha4"


def test_a_missing_api_group_is_reported_and_counts_as_synced():
    api = ScriptedApi(lists=[], watches=[])
    watcher = Watcher(api, SPLITS, Store(), max_backoff=0.05)  # type: ignore[arg-type]
    watcher.start()
    assert watcher.synced.wait(10)
    watcher.stop()
    assert watcher.state.startswith("not installed: API group split.smi-spec.io")
