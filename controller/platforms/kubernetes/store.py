"""The Kubernetes Store: Canary, MetricTemplate and AlertProvider custom resources, status and Events.

Lists come from informers (list+watch caches, see informer.py), so the scheduler's sync every second
costs no API call. A tick's own read of its Canary is a GET, not the cache: the tick must decide on the
newest status and resourceVersion, or its single status write would conflict (or worse, act on a stale
status). Status goes through the `status` subresource as a PUT carrying the resourceVersion read at the
start of the tick, so a concurrent change makes it fail with Conflict and the tick decides again.

A Canary that the API server admitted but the models reject (rules a CRD schema cannot state, like
ascending stepWeights) is kept out of `list_canaries` and reported once per distinct
reason: a Warning Event and `status.lastReason`, so one bad Canary never stops the others.
"""

from __future__ import annotations

import base64
import logging
import os
import threading
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from controller.api.alert_provider import AlertProvider
from controller.api.base import API_VERSION
from controller.api.canary import Canary
from controller.api.loading import InvalidResource, parse_resource
from controller.api.metric_template import MetricTemplate
from controller.api.status import CanaryStatus
from controller.platforms.kubernetes.client import KubeClient, resource_path
from controller.platforms.kubernetes.informer import Informer
from controller.ports.store import Event, NotFound

log = logging.getLogger("sluice.kubernetes.store")

FINALIZER = "sluice.dev/finalizer"
PLURALS = {"Canary": "canaries", "MetricTemplate": "metrictemplates", "AlertProvider": "alertproviders"}
INVALID_PREFIX = "invalid spec: "
COMMANDS = ("promote", "abort", "pause", "resume", "retry")
COMMANDS_CONFIGMAP = "sluice-commands"


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_canary(raw: dict[str, Any]) -> Canary:
    """The Canary model of a custom resource; raises InvalidResource with every problem."""
    source = f"Canary {raw['metadata'].get('namespace')}/{raw['metadata']['name']}"
    return parse_resource(raw, source)  # type: ignore[return-value]


def status_wire(status: CanaryStatus) -> dict[str, Any]:
    return status.model_dump(by_alias=True, exclude_none=True, mode="json")


class KubernetesStore:
    """Implements controller.ports.store.Store over the API server."""

    def __init__(
        self,
        kube: KubeClient,
        namespace: str | None = None,
        on_canary_change: Callable[[str, dict[str, Any]], None] = lambda event_type, obj: None,
        watch_seconds: int = 30,
    ) -> None:
        self.kube = kube
        self.namespace = namespace
        self.informers = {
            kind: Informer(
                kube,
                resource_path(API_VERSION, plural, namespace),
                on_change=on_canary_change if kind == "Canary" else (lambda event_type, obj: None),
                watch_seconds=watch_seconds,
            )
            for kind, plural in PLURALS.items()
        }
        self._reported: dict[tuple[str, str], str] = {}
        self._lock = threading.Lock()
        self.reporting_instance = os.environ.get("HOSTNAME", "sluice")

    def start(self) -> None:
        for informer in self.informers.values():
            informer.start()

    def stop(self) -> None:
        for informer in self.informers.values():
            informer.stop()

    def wait_synced(self, timeout: float) -> bool:
        return all(informer.synced.wait(timeout) for informer in self.informers.values())

    # -- the Store port ----------------------------------------------------------------------------------

    def list_canaries(self, namespace: str | None = None) -> list[Canary]:
        canaries = []
        for raw in self.informers["Canary"].objects():
            if namespace is not None and raw["metadata"].get("namespace") != namespace:
                continue
            try:
                canaries.append(parse_canary(raw))
            except InvalidResource as error:
                self._report_invalid(raw, error)
        return canaries

    def get_canary(self, namespace: str, name: str) -> Canary:
        return parse_canary(self.kube.get(self._path("Canary", namespace, name)))

    def write_status(self, canary: Canary, status: CanaryStatus) -> Canary:
        """PUT /status with the resourceVersion read at the start of the tick (409 -> Conflict)."""
        body = canary.wire()
        body["status"] = status_wire(status)
        ns, name = canary.metadata.namespace, canary.metadata.name
        return parse_canary(self.kube.replace(self._path("Canary", ns, name) + "/status", body))

    def record_event(self, event: Event) -> None:
        raw = self.informers["Canary"].get(event.namespace, event.name)
        uid = raw["metadata"].get("uid") if raw else None
        timestamp = event.timestamp or _now()
        body = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"generateName": f"{event.name}.", "namespace": event.namespace},
            "involvedObject": {
                "apiVersion": API_VERSION,
                "kind": "Canary",
                "name": event.name,
                "namespace": event.namespace,
                **({"uid": uid} if uid else {}),
            },
            "reason": event.reason,
            "message": event.message,
            "type": event.type,
            "source": {"component": "sluice"},
            "reportingComponent": "sluice.dev/controller",
            "reportingInstance": self.reporting_instance,
            "firstTimestamp": timestamp,
            "lastTimestamp": timestamp,
            "count": 1,
        }
        try:
            self.kube.create(resource_path("v1", "events", event.namespace), body)
        except Exception as exc:  # an event is worth a log line, never a failed tick
            log.warning("could not record event on %s/%s: %s", event.namespace, event.name, exc)

    def list_events(self, namespace: str, name: str) -> list[Event]:
        listed = self.kube.get(
            resource_path("v1", "events", namespace),
            fieldSelector=f"involvedObject.kind=Canary,involvedObject.name={name}",
        )
        items = sorted(
            listed.get("items", []),
            key=lambda e: (
                e.get("firstTimestamp") or e["metadata"].get("creationTimestamp") or "",
                e["metadata"].get("creationTimestamp") or "",
            ),
        )
        return [
            Event(
                namespace,
                name,
                e.get("type", "Normal"),
                e.get("reason", ""),
                e.get("message", ""),
                e.get("firstTimestamp") or "",
            )
            for e in items
        ]

    # -- other resources ---------------------------------------------------------------------------------

    def metric_template(self, namespace: str, name: str) -> MetricTemplate | None:
        return self._cached("MetricTemplate", namespace, name)  # type: ignore[return-value]

    def alert_provider(self, namespace: str, name: str) -> AlertProvider | None:
        return self._cached("AlertProvider", namespace, name)  # type: ignore[return-value]

    def secret(self, namespace: str, name: str) -> Mapping[str, str] | None:
        """A Secret's data, decoded: where AlertProviders' and MetricTemplates' secretRefs point."""
        found = self.kube.get_or_none(resource_path("v1", "secrets", namespace, name))
        if found is None:
            return None
        return {k: base64.b64decode(v).decode() for k, v in (found.get("data") or {}).items()}

    # -- manual commands ---------------------------------------------------------------------------------

    def enqueue_command(self, namespace: str, name: str, command: str) -> None:
        """Queue `promote|abort|pause|resume|retry` for a canary; the controller takes each one once.

        Commands live in the ConfigMap `sluice-commands` of the canary's namespace, not on the Canary:
        touching the Canary would bump its resourceVersion and make the tick's status write conflict.
        """
        if command not in COMMANDS:
            raise ValueError(f"unknown command {command!r} (one of: {', '.join(COMMANDS)})")
        key = f"{name}.{time.time_ns():020d}"
        path = resource_path("v1", "configmaps", namespace, COMMANDS_CONFIGMAP)
        try:
            self.kube.patch(path, {"data": {key: command}})
        except NotFound:
            body = {"metadata": {"name": COMMANDS_CONFIGMAP, "namespace": namespace}, "data": {key: command}}
            self.kube.create(resource_path("v1", "configmaps", namespace), body)

    def take_commands(self, namespace: str, name: str) -> list[str]:
        """The canary's pending commands, oldest first, each removed so it is returned once."""
        path = resource_path("v1", "configmaps", namespace, COMMANDS_CONFIGMAP)
        found = self.kube.get_or_none(path)
        data = (found or {}).get("data") or {}
        mine = sorted(key for key in data if key.rsplit(".", 1)[0] == name)
        if not mine:
            return []
        patch = {
            "metadata": {"resourceVersion": found["metadata"]["resourceVersion"]},  # type: ignore[index]
            "data": dict.fromkeys(mine),
        }
        self.kube.patch(path, patch)  # 409 if another writer raced us: the commands wait for the next tick
        return [data[key] for key in mine]

    # -- finalizer (revertOnDeletion) --------------------------------------------------------------------

    def ensure_finalizer(self, raw: dict[str, Any], wanted: bool) -> None:
        """Add or drop sluice's finalizer, guarded by resourceVersion (409 -> Conflict: try again later)."""
        meta = raw["metadata"]
        finalizers = list(meta.get("finalizers") or [])
        if (FINALIZER in finalizers) == wanted:
            return
        finalizers = [*finalizers, FINALIZER] if wanted else [f for f in finalizers if f != FINALIZER]
        patch = {"metadata": {"finalizers": finalizers, "resourceVersion": meta["resourceVersion"]}}
        self.kube.patch(self._path("Canary", meta["namespace"], meta["name"]), patch)

    def remove_finalizer(self, canary: Canary) -> None:
        raw = self.kube.get_or_none(self._path("Canary", canary.metadata.namespace, canary.metadata.name))
        if raw is not None:
            self.ensure_finalizer(raw, wanted=False)

    def raw_canaries(self) -> list[dict[str, Any]]:
        return self.informers["Canary"].objects()

    # -- helpers -----------------------------------------------------------------------------------------

    def _cached(self, kind: str, namespace: str, name: str) -> Any:
        raw = self.informers[kind].get(namespace, name)
        if raw is None:
            return None
        try:
            return parse_resource(raw, f"{kind} {namespace}/{name}")
        except InvalidResource as error:
            log.warning("%s %s/%s is invalid: %s", kind, namespace, name, error)
            return None

    def _path(self, kind: str, namespace: str, name: str) -> str:
        return resource_path(API_VERSION, PLURALS[kind], namespace, name)

    def _report_invalid(self, raw: dict[str, Any], error: InvalidResource) -> None:
        meta = raw["metadata"]
        problems = "; ".join(f"{p.path}: {p.reason}" if p.path else p.reason for p in error.problems)
        self.report_problem(meta["namespace"], meta["name"], INVALID_PREFIX + problems, "InvalidSpec")

    def report_problem(self, namespace: str, name: str, reason: str, event_reason: str = "Failed") -> None:
        """Why a Canary cannot run, told once per distinct reason: an Event and status.lastReason."""
        key = (namespace, name)
        with self._lock:
            if self._reported.get(key) == reason:
                return
            self._reported[key] = reason
        log.warning("Canary %s/%s: %s", namespace, name, reason)
        self.record_event(Event(namespace, name, "Warning", event_reason, reason))
        try:
            path = self._path("Canary", namespace, name) + "/status"
            self.kube.patch(path, {"status": {"lastReason": reason}})
        except Exception as exc:
            log.warning("could not write the status of Canary %s/%s: %s", namespace, name, exc)

    def clear_problem(self, namespace: str, name: str) -> None:
        with self._lock:
            self._reported.pop((namespace, name), None)
