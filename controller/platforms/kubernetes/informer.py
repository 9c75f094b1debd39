"""List+watch of one resource type into an in-memory cache, the way a client-go informer does it.

LIST gives the current objects and a resourceVersion; WATCH from there (with bookmarks, so an idle
watch still advances its resourceVersion and a reconnect does not replay or miss). When the server ends
the watch (its timeout) we watch again from the last resourceVersion seen; when it answers 410 Gone (that
version was compacted away) we LIST again; any other failure watches again from the last resourceVersion
after an exponential backoff (0.2 s doubling to 30 s, reset once a LIST or WATCH succeeds). kopf's
watching.py does the same; the official client's Watch retries a 410 only once and then raises, so this
loop owns that decision itself.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable
from typing import Any

from controller.platforms.kubernetes.client import KubeClient

log = logging.getLogger("sluice.kubernetes.informer")

Key = tuple[str, str]
OnChange = Callable[[str, dict[str, Any]], None]


class Gone(Exception):
    """The watch's resourceVersion is too old: list again."""


class Informer:
    def __init__(
        self,
        kube: KubeClient,
        path: str,
        on_change: OnChange = lambda event_type, obj: None,
        watch_seconds: int = 30,
        max_backoff: float = 30.0,
    ) -> None:
        self.kube = kube
        self.path = path
        self.on_change = on_change
        self.watch_seconds = watch_seconds
        self.max_backoff = max_backoff
        self.synced = threading.Event()
        self.lists = 0
        self._objects: dict[Key, dict[str, Any]] = {}
        self._version: str | None = None
        self._response: Any = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"informer {path}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """End the watch now: its blocked read is shut down, and the thread leaves its loop."""
        self._stop.set()
        response = self._response
        if response is not None:
            with contextlib.suppress(Exception):
                response.shutdown()

    def objects(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._objects.values())

    def get(self, namespace: str, name: str) -> dict[str, Any] | None:
        with self._lock:
            return self._objects.get((namespace, name))

    def _run(self) -> None:
        delay = 0.2
        version: str | None = None
        while not self._stop.is_set():
            try:
                if version is None:
                    version = self._list()
                    delay = 0.2
                self._watch(version)
                delay = 0.2
            except Gone:
                log.info("watch of %s expired (410 Gone); listing again", self.path)
                version = self._version = None
                continue
            except Exception as exc:
                log.warning("watch of %s failed (%s); reconnecting in %.1fs", self.path, exc, delay)
                self._stop.wait(delay)
                delay = min(delay * 2, self.max_backoff)
            version = self._version or version

    def _opened(self, response: Any) -> None:
        self._response = response
        if self._stop.is_set():
            with contextlib.suppress(Exception):
                response.shutdown()

    def _list(self) -> str:
        listed = self.kube.get(self.path)
        objects = {_key(obj): obj for obj in listed.get("items", [])}
        with self._lock:
            gone = [obj for key, obj in self._objects.items() if key not in objects]
            self._objects = objects
        self.lists += 1
        self._version = listed["metadata"]["resourceVersion"]
        self.synced.set()
        for obj in gone:
            self.on_change("DELETED", obj)
        for obj in objects.values():
            self.on_change("ADDED", obj)
        return listed["metadata"]["resourceVersion"]

    def _watch(self, version: str) -> None:
        """Apply events until the server ends the watch; the last resourceVersion seen is `_version`."""
        query = {
            "resourceVersion": version,
            "allowWatchBookmarks": True,
            "timeoutSeconds": self.watch_seconds,
        }
        events = self.kube.watch(self.path, query, self.watch_seconds + 15, opened=self._opened)
        for event in events:
            if self._stop.is_set():
                break
            kind, obj = event.get("type"), event.get("object") or {}
            if kind == "ERROR":
                if obj.get("code") == 410:
                    raise Gone(obj.get("message", ""))
                raise RuntimeError(f"watch error {obj.get('code')}: {obj.get('message', '')}")
            self._version = obj.get("metadata", {}).get("resourceVersion", self._version)
            if kind == "BOOKMARK":
                continue
            with self._lock:
                if kind == "DELETED":
                    self._objects.pop(_key(obj), None)
                else:
                    self._objects[_key(obj)] = obj
            self.on_change(kind, obj)


def _key(obj: dict[str, Any]) -> Key:
    meta = obj["metadata"]
    return meta.get("namespace", ""), meta["name"]
