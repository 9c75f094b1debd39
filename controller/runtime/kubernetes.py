"""Kubernetes mode wired together: API-server store, Deployment/DaemonSet platform, mesh routers.

The same tick, scheduler, engine and adapters as local mode (runtime/local.py); only the ports differ.
`KubernetesController` is what `sluice controller` runs and what the Kubernetes tests start in-process.
Besides the jobs, the scheduler's sync keeps the revertOnDeletion finalizer in step with each Canary, and a
tick that fails (a missing target, a router that cannot express the strategy) leaves its reason in the
Canary's status and Events, so a broken Canary is visible and never holds up the others.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Mapping
from typing import Any

from kubernetes.client import ApiClient
from kubernetes.client.rest import ApiException

from analysis.errors import MetricConfigError
from analysis.providers.registry import builtin_provider, provider_for_template
from controller.api.canary import Canary
from controller.notify.defaults import dispatcher_from_settings
from controller.notify.queue import DeliveryQueue
from controller.platforms.kubernetes.autoscaler import AutoscalerError
from controller.platforms.kubernetes.client import KubeClient
from controller.platforms.kubernetes.platform import SELECTOR_LABELS, KubernetesPlatform, TargetError
from controller.platforms.kubernetes.store import KubernetesStore
from controller.routers.registry import ProviderRouter, UnknownProvider
from controller.routers.smi import UnsupportedRoutes
from controller.runtime.adapters import alert_sink, check_runner, hook_caller
from controller.runtime.metrics import ControllerMetrics
from controller.runtime.scheduler import CanaryScheduler, JobSpec
from controller.runtime.tick import TickRunner

log = logging.getLogger("sluice.kubernetes")

# Problems of a Canary's own making, fixed by editing it (or its target), not by a retry of ours.
USER_ERRORS = (TargetError, AutoscalerError, UnsupportedRoutes, UnknownProvider, MetricConfigError)


def describe(exc: Exception) -> str:
    """One line for status: an API error's own message (e.g. which verb RBAC refused), not its repr."""
    if isinstance(exc, ApiException):
        try:
            message = json.loads(exc.body or "").get("message", "")
        except (ValueError, AttributeError):
            message = ""
        return f"{exc.status} {message or exc.reason}".strip()
    return str(exc)


class KubernetesController:
    """`settings`: notification settings by their SLUICE_* names (controller.notify.defaults; default env)."""

    def __init__(
        self,
        api: ApiClient,
        namespace: str | None = None,
        mesh_provider: str = "smi:v1alpha4",
        metrics_server: str | None = None,
        selector_labels: tuple[str, ...] = SELECTOR_LABELS,
        include_label_prefixes: tuple[str, ...] = ("*",),
        config_tracking: bool = True,
        settings: Mapping[str, str] | None = None,
        sync_seconds: float = 1.0,
        workers: int = 4,
        watch_seconds: int = 30,
    ) -> None:
        self.kube = KubeClient(api)
        self.namespace = namespace
        self.store = KubernetesStore(
            self.kube, namespace, on_canary_change=self._canary_changed, watch_seconds=watch_seconds
        )
        self.platform = KubernetesPlatform(
            self.kube,
            selector_labels=selector_labels,
            include_label_prefixes=include_label_prefixes,
            config_tracking=config_tracking,
            default_provider=mesh_provider,
        )
        self.router = ProviderRouter(api, mesh_provider)
        self.metrics = ControllerMetrics(mesh_provider=mesh_provider)
        self.queue = DeliveryQueue()
        self.dispatcher = dispatcher_from_settings(
            self.queue, self.store.alert_provider, self.store.secret, settings
        )
        self.runner = TickRunner(
            store=self.store,
            platform=self.platform,
            router=self.router,
            checks=check_runner(
                lambda canary: builtin_provider(canary, metrics_server=metrics_server),
                lambda name, ns: self.store.metric_template(ns, name),
                lambda template: provider_for_template(
                    template, secrets=self._secret, default_address=metrics_server
                ),
            ),
            hooks=hook_caller(),
            alert=alert_sink(self.dispatcher),
            metrics=self.metrics,
            background=lambda work: threading.Thread(target=work, daemon=True).start(),
            forget=self._forget,
        )
        self.scheduler = CanaryScheduler(self._jobs, self.tick, sync_seconds=sync_seconds, workers=workers)
        self._generations: dict[tuple[str, str], int] = {}
        self._started = threading.Event()

    def _secret(self, name: str, namespace: str) -> Mapping[str, str]:
        """A MetricTemplate's `secretRef`, read from the API (analysis.providers.secrets.SecretLookup)."""
        data = self.store.secret(namespace, name)
        if data is None:
            raise KeyError(f"Secret {namespace}/{name} not found")
        return data

    def start(self, sync_timeout: float = 30.0) -> None:
        self.store.start()
        if not self.store.wait_synced(sync_timeout):
            log.warning("informers not synced after %.0fs; starting anyway", sync_timeout)
        self.queue.start()
        self.scheduler.start()
        self._started.set()

    def stop(self) -> None:
        self.scheduler.stop()
        self.queue.stop()
        self.store.stop()

    def ready(self) -> bool:
        return self._started.is_set()

    def tick(self, namespace: str, name: str) -> None:
        try:
            decision = self.runner(namespace, name)
        except USER_ERRORS as exc:  # the Canary asks for something impossible: say so, no traceback
            self.store.report_problem(namespace, name, f"tick failed: {exc}")
            return
        except Exception as exc:
            self.store.report_problem(namespace, name, f"tick failed: {describe(exc)}")
            raise
        if decision is not None:
            self.store.clear_problem(namespace, name)

    def _jobs(self) -> list[JobSpec]:
        jobs = []
        counts: dict[str, int] = {}
        for canary in self.store.list_canaries():
            ns = canary.metadata.namespace
            counts[ns] = counts.get(ns, 0) + 1
            jobs.append(JobSpec(ns, canary.metadata.name, canary.spec.get_analysis().interval_seconds()))
        for raw in self.store.raw_canaries():
            self._keep_finalizer(raw)
        for ns, count in counts.items():
            self.metrics.canary_total.labels(ns).set(count)
        return jobs

    def _keep_finalizer(self, raw: dict[str, Any]) -> None:
        meta = raw["metadata"]
        if meta.get("deletionTimestamp"):
            return
        try:
            self.store.ensure_finalizer(raw, wanted=bool((raw.get("spec") or {}).get("revertOnDeletion")))
        except Exception as exc:  # a conflict with a tick's status write: the next sync tries again
            log.info("finalizer of %s/%s not updated yet: %s", meta["namespace"], meta["name"], exc)

    def _canary_changed(self, event_type: str, raw: dict[str, Any]) -> None:
        """A spec change (new generation) or a deletion is acted on now, not at the next interval."""
        meta = raw["metadata"]
        key = (meta.get("namespace", ""), meta["name"])
        generation = int(meta.get("generation") or 0)
        if event_type == "DELETED":
            self._generations.pop(key, None)
            return
        previous = self._generations.get(key)
        self._generations[key] = generation
        if (
            self._started.is_set()
            and previous is not None
            and (previous != generation or meta.get("deletionTimestamp"))
        ):
            self.scheduler.run_now(*key)

    def _forget(self, canary: Canary) -> None:
        """Terminated after revertOnDeletion: let the API server delete the Canary (and what it owns)."""
        self.store.remove_finalizer(canary)
