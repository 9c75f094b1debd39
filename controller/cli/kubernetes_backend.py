"""The status CLI's view of a cluster: `sluice status/wait/promote --kubeconfig/--context`.

It runs with the user's credentials, not the controller's ServiceAccount, so it lives with the CLI (the
chart's RBAC covers only what the controller itself calls).
"""

from __future__ import annotations

import logging
import os
import time

from kubernetes.client import ApiClient

from controller.api.base import API_VERSION
from controller.api.canary import Canary
from controller.api.loading import InvalidResource
from controller.api.routes import Routes
from controller.cli.traffic_view import fetch_traffic
from controller.platforms.kubernetes.client import KubeClient, resource_path
from controller.platforms.kubernetes.platform import KubernetesPlatform
from controller.platforms.kubernetes.store import KubernetesStore, parse_canary
from controller.ports.store import Event
from controller.routers.registry import ProviderRouter

log = logging.getLogger("sluice.cli")


class KubernetesStatusBackend:
    """controller.cli.backend.StatusBackend over the API server, for `sluice status/wait/promote --context`.

    Reads go straight to the API (a CLI run is short, so no informers); live weights come from the canary's
    router like the controller reads them; commands go where the controller takes them (the
    `sluice-commands` ConfigMap). `changes()` fingerprints the canaries' resourceVersions and their event
    count, polled by `wait_for_change`.
    """

    def __init__(
        self,
        api: ApiClient,
        namespace: str | None = None,
        mesh_provider: str = "smi:v1alpha4",
        poll_seconds: float = 1.0,
    ) -> None:
        self.kube = KubeClient(api)
        self.namespace = namespace
        self.store = KubernetesStore(self.kube, namespace)
        self.platform = KubernetesPlatform(self.kube)
        self.router = ProviderRouter(api, mesh_provider)
        self.poll_seconds = poll_seconds

    def list_canaries(self, namespace: str | None) -> list[Canary]:
        listed = self.kube.get(resource_path(API_VERSION, "canaries", namespace))
        canaries = []
        for raw in listed.get("items", []):
            try:
                canaries.append(parse_canary(raw))
            except InvalidResource as error:
                log.warning("skipping invalid Canary %s: %s", raw["metadata"]["name"], error)
        return canaries

    def get_canary(self, namespace: str, name: str) -> Canary:
        return self.store.get_canary(namespace, name)

    def events(self, namespace: str, name: str) -> list[Event]:
        return self.store.list_events(namespace, name)

    def live_routes(self, canary: Canary) -> Routes | None:
        try:
            return self.router.get_routes(canary)
        except Exception as exc:
            log.debug("no live routes for %s: %s", canary.metadata.name, exc)
            return None

    def target_revision(self, canary: Canary) -> str | None:
        try:
            return self.platform.revision(canary).spec_hash
        except Exception as exc:
            log.debug("no target revision for %s: %s", canary.metadata.name, exc)
            return None

    def traffic(self, canary: Canary) -> dict | None:
        """From the mesh gateway's admin API when `SLUICE_MESH_ADMIN` names it (e.g. a port-forward)."""
        admin = os.environ.get("SLUICE_MESH_ADMIN")
        if not admin:
            return None
        return fetch_traffic(admin, canary.metadata.namespace, canary.spec.apex_name())

    def enqueue(self, namespace: str, name: str, command: str) -> None:
        self.store.enqueue_command(namespace, name, command)

    def changes(self) -> int:
        listed = self.kube.get(resource_path(API_VERSION, "canaries", self.namespace))
        versions = sorted(
            (i["metadata"]["namespace"], i["metadata"]["name"], i["metadata"]["resourceVersion"])
            for i in listed.get("items", [])
        )
        events = self.kube.get(
            resource_path("v1", "events", self.namespace), fieldSelector="involvedObject.kind=Canary"
        )
        return hash((tuple(versions), len(events.get("items", []))))

    def wait_for_change(self, since: int, timeout: float) -> int:
        deadline = time.monotonic() + timeout
        while True:
            current = self.changes()
            if current != since or time.monotonic() >= deadline:
                return current
            time.sleep(min(self.poll_seconds, max(deadline - time.monotonic(), 0)))
