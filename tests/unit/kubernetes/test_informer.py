"""The informer's list+watch loop against a scripted fake API: bookmarks advance the resourceVersion,
410 Gone lists again, other failures reconnect after a backoff, DELETED events leave the cache."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

from controller.platforms.kubernetes.informer import Informer
from tests.harness.poll import wait_until


def _obj(name: str, version: str) -> dict[str, Any]:
    return {"metadata": {"namespace": "ns", "name": name, "resourceVersion": version}}


class ScriptedKube:
    """Answers LISTs from `lists` and WATCHes from `watches` (each a list of events, or an exception)."""

    def __init__(self, lists: list[dict[str, Any]], watches: list[Any]) -> None:
        self.lists = lists
        self.watches = watches
        self.watch_versions: list[str] = []
        self.idle = threading.Event()

    def get(self, path: str, **query: Any) -> dict[str, Any]:
        return self.lists.pop(0) if len(self.lists) > 1 else self.lists[0]

    def watch(
        self, path: str, query: dict[str, Any], timeout: float, opened: Any
    ) -> Iterator[dict[str, Any]]:
        self.watch_versions.append(query["resourceVersion"])
        if not self.watches:
            self.idle.set()
            threading.Event().wait(0.05)
            return
        script = self.watches.pop(0)
        if isinstance(script, Exception):
            raise script
        yield from script


def test_list_then_watch_with_bookmarks_gone_and_errors() -> None:
    kube = ScriptedKube(
        lists=[
            {"metadata": {"resourceVersion": "10"}, "items": [_obj("a", "5")]},
            {"metadata": {"resourceVersion": "30"}, "items": [_obj("b", "25")]},
        ],
        watches=[
            [{"type": "ADDED", "object": _obj("b", "11")}, {"type": "BOOKMARK", "object": _obj("", "15")}],
            [{"type": "ERROR", "object": {"code": 410, "message": "too old"}}],
            ConnectionError("refused"),
            [{"type": "DELETED", "object": _obj("b", "31")}],
        ],
    )
    changes: list[tuple[str, str]] = []
    informer = Informer(
        kube, "/apis/x", on_change=lambda kind, obj: changes.append((kind, obj["metadata"]["name"]))
    )
    informer.start()
    try:
        wait_until(kube.idle.is_set, timeout=10, what="the script to be played")
    finally:
        informer.stop()
    # 10 from the list; 15 from the bookmark; after 410 a new list at 30; the error re-watches from 30,
    # and the DELETED event moves it to 31.
    assert kube.watch_versions[:5] == ["10", "15", "30", "30", "31"]
    assert informer.lists == 2
    assert [o["metadata"]["name"] for o in informer.objects()] == []
    assert changes == [("ADDED", "a"), ("ADDED", "b"), ("DELETED", "a"), ("ADDED", "b"), ("DELETED", "b")]
