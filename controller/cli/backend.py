"""Where the status CLI reads rollouts from: one small Protocol, so local and Kubernetes look the same.

`sluice status`, `wait`, `promote` ... never touch a store or a proxy directly; they ask a StatusBackend.
The local one reads the state folder's SQLite store and, when `sluice run` has recorded its bundled proxy
in `proxy.json`, asks the proxy for the weights it routes by *now* (status only says what the controller
last set). The Kubernetes one (cli/kubernetes_backend.py) reads canaries through
the API server and is chosen by `--kubeconfig` / `--context`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

import click

from controller.api.canary import Canary
from controller.api.routes import Routes
from controller.api.workload import Workload
from controller.cli.resources import open_store, state_option
from controller.cli.traffic_view import fetch_traffic
from controller.platforms.local.revision import spec_revision
from controller.platforms.local.store import LocalStore
from controller.ports.store import Event, NotFound
from controller.routers.bundled_proxy import live_routes
from mesh.proxy.admin_client import AdminClient, AdminError


class StatusBackend(Protocol):
    def list_canaries(self, namespace: str | None) -> list[Canary]:
        """Every canary, or those of one namespace (None: all namespaces)."""

    def get_canary(self, namespace: str, name: str) -> Canary:
        """One canary; raises NotFound."""

    def events(self, namespace: str, name: str) -> list[Event]:
        """The canary's events, oldest first."""

    def live_routes(self, canary: Canary) -> Routes | None:
        """The weights the router applies now; None when they cannot be read."""

    def target_revision(self, canary: Canary) -> str | None:
        """The target's current revision, to tell a run not yet picked up; None when unknown."""

    def traffic(self, canary: Canary) -> dict | None:
        """The mesh's per-backend traffic (SMI TrafficMetricsList) for the canary; None when unknown."""

    def enqueue(self, namespace: str, name: str, command: str) -> None:
        """Queue promote|abort|pause|resume|retry for the controller's next tick."""

    def changes(self) -> int:
        """A counter that moves whenever anything the backend serves changes."""

    def wait_for_change(self, since: int, timeout: float) -> int:
        """Block until `changes()` moves past `since` or `timeout` passes; return the counter."""


@dataclass(frozen=True)
class Snapshot:
    """Everything `sluice status NAME` shows, read at one moment: rendering is a pure function of it."""

    canary: Canary
    events: list[Event] = field(default_factory=list)
    live: Routes | None = None
    target_revision: str | None = None
    taken_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    # The mesh's own per-backend traffic figures (SMI TrafficMetrics), when a proxy routes this canary.
    traffic: dict | None = None


def take_snapshot(backend: StatusBackend, namespace: str, name: str, now: datetime | None = None) -> Snapshot:
    canary = backend.get_canary(namespace, name)
    return Snapshot(
        canary=canary,
        events=backend.events(namespace, name),
        live=backend.live_routes(canary),
        target_revision=backend.target_revision(canary),
        traffic=backend.traffic(canary),
        taken_at=now or datetime.now(UTC),
    )


class LocalBackend:
    """The state folder: its store, and the bundled proxy `sluice run` recorded there (if any)."""

    def __init__(self, store: LocalStore) -> None:
        self.store = store

    def list_canaries(self, namespace: str | None) -> list[Canary]:
        return self.store.list_canaries(namespace)

    def get_canary(self, namespace: str, name: str) -> Canary:
        return self.store.get_canary(namespace, name)

    def events(self, namespace: str, name: str) -> list[Event]:
        return self.store.list_events(namespace, name)

    def live_routes(self, canary: Canary) -> Routes | None:
        admin = self._proxy_admin()
        if admin is None:
            return None
        try:
            return live_routes(admin, canary.spec.apex_name())
        except (OSError, AdminError, KeyError, TypeError, ValueError):
            return None

    def traffic(self, canary: Canary) -> dict | None:
        admin = self._proxy_admin()
        if admin is None:
            return None
        return fetch_traffic(admin.base_url, canary.metadata.namespace, canary.spec.apex_name())

    def target_revision(self, canary: Canary) -> str | None:
        try:
            target = self.store.get("Workload", canary.metadata.namespace, canary.spec.target_ref.name)
        except NotFound:
            return None
        return spec_revision(target.spec) if isinstance(target, Workload) else None

    def enqueue(self, namespace: str, name: str, command: str) -> None:
        self.store.get_canary(namespace, name)
        self.store.enqueue_command(namespace, name, command)

    def changes(self) -> int:
        return self.store.changes()

    def wait_for_change(self, since: int, timeout: float) -> int:
        return self.store.wait_for_change(since, timeout)

    def _proxy_admin(self) -> AdminClient | None:
        record = Path(self.store.state_dir()) / "proxy.json"
        try:
            port = int(json.loads(record.read_text())["admin_port"])
        except (OSError, ValueError, KeyError, TypeError):
            return None
        return AdminClient(f"http://127.0.0.1:{port}", timeout=1.0)


def open_backend(state_dir: Path | None) -> StatusBackend:
    """The backend the options chose: a cluster when `--kubeconfig` or `--context` is given, else the local
    state folder."""
    ctx = click.get_current_context(silent=True)
    cluster = ctx.meta.get(_CLUSTER) if ctx else None
    if cluster:
        from controller.cli.kubeconfig import api_client
        from controller.cli.kubernetes_backend import KubernetesStatusBackend

        return KubernetesStatusBackend(
            api_client(cluster.get("kubeconfig"), cluster.get("context")),
            mesh_provider=cluster.get("mesh_provider") or "smi:v1alpha4",
        )
    return LocalBackend(open_store(state_dir))


_CLUSTER = "sluice.cluster"


def _remember(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
    if value:
        ctx.meta.setdefault(_CLUSTER, {})[param.name] = value


def backend_options(func: click.decorators.FC) -> click.decorators.FC:
    """Where to look (shared by status, wait and the commands): `--state DIR` locally, or a cluster with
    `--kubeconfig`/`--context`; `-n NS` in either."""
    func = click.option("-n", "--namespace", default="default", show_default=True)(func)
    for flag, help_text in (
        ("--mesh-provider", "The cluster's default provider, to read live weights (default smi:v1alpha4)."),
        ("--context", "Kubeconfig context: read the rollouts of that cluster instead of the local state."),
        ("--kubeconfig", "Kubeconfig file: read the rollouts of that cluster instead of the local state."),
    ):
        func = click.option(flag, expose_value=False, callback=_remember, help=help_text)(func)
    return state_option(func)
