"""List+watch of the objects the mesh is made of, into one in-memory store the translation reads.

Each resource has a thread that LISTs, then WATCHes from the list's resourceVersion with bookmarks; when
the server ends a watch it watches again from the last version seen, a 410 Gone (version compacted away)
means LIST again, any other failure waits with exponential backoff (0.2 s doubling to 30 s). This is the
informer loop of controller/platforms/kubernetes/informer.py; the mesh may not import the controller's
platform code (import-linter), and it needs two things that one lacks: API groups that may not be
installed (SMI, Gateway API CRDs arrive later or never: discovered, retried slowly, reported), and one
version per group (every served version of a CRD lists the same stored objects, so watching v1alpha1..4
of TrafficSplit would see each split four times; the preferred version is watched and all shapes are
read by the translation).

The official client's typed models are not used: they drop fields they do not know, and the mesh reads
plain JSON the way the routers wrote it.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from kubernetes.client import ApiClient

log = logging.getLogger("sluice.mesh.watch")

Key = tuple[str, str]


@dataclass(frozen=True)
class Resource:
    field: str  # Snapshot field the objects go to
    group: str  # "" for the core API
    versions: tuple[str, ...]  # acceptable versions, best first
    plural: str
    kind: str
    # What of each object is kept (None: all of it). Pods are many and change often; the translation
    # reads only who they run as, and an update that leaves the kept part as it was wakes nobody.
    keep: Callable[[dict[str, Any]], dict[str, Any]] | None = None


def pod_identity_fields(pod: dict[str, Any]) -> dict[str, Any]:
    meta = pod.get("metadata") or {}
    return {
        "metadata": {"name": meta.get("name"), "namespace": meta.get("namespace")},
        "spec": {"serviceAccountName": (pod.get("spec") or {}).get("serviceAccountName") or "default"},
    }


RESOURCES = (
    Resource("services", "", ("v1",), "services", "Service"),
    Resource("endpoint_slices", "discovery.k8s.io", ("v1",), "endpointslices", "EndpointSlice"),
    Resource(
        "traffic_splits",
        "split.smi-spec.io",
        ("v1alpha4", "v1alpha3", "v1alpha2", "v1alpha1"),
        "trafficsplits",
        "TrafficSplit",
    ),
    Resource(
        "route_groups",
        "specs.smi-spec.io",
        ("v1alpha4", "v1alpha3", "v1alpha2", "v1alpha1"),
        "httproutegroups",
        "HTTPRouteGroup",
    ),
    Resource(
        "traffic_targets",
        "access.smi-spec.io",
        ("v1alpha3", "v1alpha2", "v1alpha1"),
        "traffictargets",
        "TrafficTarget",
    ),
    Resource("http_routes", "gateway.networking.k8s.io", ("v1",), "httproutes", "HTTPRoute"),
    Resource("pods", "", ("v1",), "pods", "Pod", keep=pod_identity_fields),
)


class Gone(Exception):
    """The watch's resourceVersion is too old: list again."""


class NotServed(Exception):
    """The API group or version is not installed (yet)."""


class ApiError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"{status} {message}")
        self.status = status


class Api:
    """GET and streaming WATCH of plain JSON over the official client's ApiClient (auth, TLS, pooling)."""

    def __init__(self, client: ApiClient, timeout: float = 30.0) -> None:
        self.client = client
        self.timeout = timeout

    def _send(self, path: str, query: dict[str, Any], timeout: float) -> Any:
        if query:
            path += "?" + urlencode(
                {k: str(v).lower() if isinstance(v, bool) else v for k, v in query.items()}
            )
        headers = {"Accept": "application/json"}
        _, url, headers, *_ = self.client.param_serialize(
            "GET", path, header_params=headers, auth_settings=["BearerToken"]
        )
        return self.client.call_api("GET", url, header_params=headers, _request_timeout=timeout)

    def get(self, path: str, **query: Any) -> dict[str, Any]:
        response = self._send(path, query, self.timeout)
        data = response.read()
        if not 200 <= response.status <= 299:
            raise ApiError(response.status, _message(data))
        return json.loads(data)

    def watch(self, path: str, query: dict[str, Any], timeout: float) -> Iterator[dict[str, Any]]:
        response = self._send(path, {**query, "watch": True}, timeout)
        try:
            if not 200 <= response.status <= 299:
                raise ApiError(response.status, _message(response.read()))
            buffer = b""
            for chunk in response.response.stream(65536, decode_content=True):
                buffer += chunk
                *lines, buffer = buffer.split(b"\n")
                for line in lines:
                    if line.strip():
                        yield json.loads(line)
        finally:
            response.response.release_conn()


def _message(data: bytes) -> str:
    try:
        return str(json.loads(data).get("message", ""))
    except (ValueError, AttributeError):
        return data.decode(errors="replace")[:200]


class Store:
    """Objects by resource field and (namespace, name); `on_change` is called after every change."""

    def __init__(self, on_change: Callable[[], None] = lambda: None) -> None:
        self.on_change = on_change
        self._objects: dict[str, dict[Key, dict[str, Any]]] = {r.field: {} for r in RESOURCES}
        self._lock = threading.Lock()

    def replace(self, field: str, objects: dict[Key, dict[str, Any]]) -> None:
        with self._lock:
            self._objects[field] = objects
        self.on_change()

    def put(self, field: str, obj: dict[str, Any], deleted: bool = False) -> None:
        with self._lock:
            objects, key = self._objects[field], key_of(obj)
            if deleted:
                changed = objects.pop(key, None) is not None
            else:
                changed = objects.get(key) != obj
                objects[key] = obj
        if changed:
            self.on_change()

    def copy(self) -> dict[str, dict[Key, dict[str, Any]]]:
        with self._lock:
            return {field: dict(objects) for field, objects in self._objects.items()}


def key_of(obj: dict[str, Any]) -> Key:
    meta = obj["metadata"]
    return meta.get("namespace", ""), meta["name"]


class Watcher:
    """One resource's list+watch loop in a daemon thread."""

    def __init__(
        self,
        api: Api,
        resource: Resource,
        store: Store,
        namespace: str | None = None,
        watch_seconds: int = 30,
        max_backoff: float = 30.0,
    ) -> None:
        self.api, self.resource, self.store = api, resource, store
        self.namespace = namespace
        self.watch_seconds = watch_seconds
        self.max_backoff = max_backoff
        self.synced = threading.Event()  # listed once, or known not to be installed
        self.version: str | None = None  # the API version being watched
        self.state = "starting"
        self.lists = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"mesh watch {resource.plural}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def status(self) -> dict[str, Any]:
        group = self.resource.group or "core"
        return {
            "resource": f"{self.resource.plural}.{group}",
            "version": self.version,
            "state": self.state,
            "lists": self.lists,
        }

    def _path(self) -> str:
        version = self.version
        base = f"/api/{version}" if not self.resource.group else f"/apis/{self.resource.group}/{version}"
        where = f"/namespaces/{self.namespace}" if self.namespace else ""
        return f"{base}{where}/{self.resource.plural}"

    def _discover(self) -> str:
        if not self.resource.group:
            return self.resource.versions[0]
        try:
            group = self.api.get(f"/apis/{self.resource.group}")
        except ApiError as exc:
            if exc.status == 404:
                raise NotServed(f"API group {self.resource.group} is not installed") from None
            raise
        served = [v.get("version") for v in group.get("versions") or []]
        preferred = (group.get("preferredVersion") or {}).get("version")
        for version in ([preferred] if preferred in self.resource.versions else []) + list(
            self.resource.versions
        ):
            if version in served:
                return version
        raise NotServed(f"{self.resource.group} serves {served}, none of {list(self.resource.versions)}")

    def _run(self) -> None:
        delay = 0.2
        resource_version: str | None = None
        while not self._stop.is_set():
            try:
                if self.version is None:
                    self.version = self._discover()
                if resource_version is None:
                    resource_version = self._list()
                    delay = 0.2
                resource_version = self._watch(resource_version)
                delay = 0.2
            except Gone:
                log.info("watch of %s expired (410 Gone); listing again", self.resource.plural)
                resource_version = None
            except NotServed as exc:
                self.state = f"not installed: {exc}"
                self.version = None
                if not self.synced.is_set():
                    self.store.replace(self.resource.field, {})
                self.synced.set()
                self._stop.wait(self.max_backoff)
            except Exception as exc:
                self.state = f"retrying in {delay:.1f}s: {exc}"
                log.warning("watch of %s failed (%s); again in %.1fs", self.resource.plural, exc, delay)
                if isinstance(exc, ApiError) and exc.status == 404:
                    self.version = resource_version = None  # the CRD went away: discover again
                self._stop.wait(delay)
                delay = min(delay * 2, self.max_backoff)

    def _list(self) -> str:
        listed = self.api.get(self._path())
        items = [self._label(obj) for obj in listed.get("items") or []]
        self.store.replace(self.resource.field, {key_of(obj): obj for obj in items})
        self.lists += 1
        self.state = "watching"
        self.synced.set()
        return listed["metadata"]["resourceVersion"]

    def _label(self, obj: dict[str, Any]) -> dict[str, Any]:
        """What is kept of `obj`. List items of built-in kinds come without apiVersion and kind; messages
        name them."""
        if self.resource.keep is not None:
            obj = self.resource.keep(obj)
        obj.setdefault("apiVersion", f"{self.resource.group}/{self.version}".lstrip("/"))
        obj.setdefault("kind", self.resource.kind)
        return obj

    def _watch(self, resource_version: str) -> str:
        query = {
            "resourceVersion": resource_version,
            "allowWatchBookmarks": True,
            "timeoutSeconds": self.watch_seconds,
        }
        for event in self.api.watch(self._path(), query, timeout=self.watch_seconds + 15):
            if self._stop.is_set():
                break
            kind, obj = event.get("type"), event.get("object") or {}
            if kind == "ERROR":
                if obj.get("code") == 410:
                    raise Gone(obj.get("message", ""))
                raise ApiError(int(obj.get("code") or 500), obj.get("message", ""))
            resource_version = (obj.get("metadata") or {}).get("resourceVersion", resource_version)
            if kind == "BOOKMARK":
                continue
            self.store.put(self.resource.field, self._label(obj), deleted=kind == "DELETED")
        return resource_version


def start_watchers(api: Api, store: Store, namespace: str | None = None) -> list[Watcher]:
    watchers = [Watcher(api, resource, store, namespace) for resource in RESOURCES]
    for watcher in watchers:
        watcher.start()
    return watchers


def wait_synced(watchers: list[Watcher], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    return all(w.synced.wait(max(0.0, deadline - time.monotonic())) for w in watchers)
