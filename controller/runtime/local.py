"""Local mode wired together: SQLite store, process platform, bundled proxy, analysis from proxy windows.

`LocalController` is what `sluice run` and `sluice demo` start. It owns the scheduler, the supervisor of
workload processes and the notification queue; the proxy outlives it (see proxy_process) so a controller
restart never interrupts traffic, and so do the workload processes (the supervisor adopts them).
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from analysis.providers.registry import builtin_provider, provider_for_template
from analysis.providers.secrets import secrets_from_env
from controller.api.alert_provider import AlertProvider
from controller.api.canary import Canary
from controller.api.metric_template import MetricTemplate
from controller.notify.defaults import default_endpoints
from controller.notify.dispatcher import Dispatcher
from controller.notify.local_secrets import local_secrets
from controller.notify.queue import DeliveryQueue
from controller.platforms.local.database import Database
from controller.platforms.local.platform import LocalPlatform
from controller.platforms.local.store import LocalStore
from controller.platforms.local.supervisor import Supervisor
from controller.ports.store import NotFound
from controller.routers.bundled_proxy import BundledProxyRouter
from controller.runtime.adapters import alert_sink, check_runner, hook_caller
from controller.runtime.metrics import ControllerMetrics
from controller.runtime.proxy_process import ensure_proxy, stop_proxy
from controller.runtime.scheduler import CanaryScheduler, JobSpec
from controller.runtime.tick import TickRunner

log = logging.getLogger("sluice.local")


class LocalController:
    def __init__(
        self,
        state_dir: Path,
        metrics_server: str | None = None,
        sync_seconds: float = 0.5,
        proxy_admin_port: int | None = None,
    ) -> None:
        state_dir.mkdir(parents=True, exist_ok=True)
        self.state_dir = state_dir
        self.db = Database(state_dir)
        self.store = LocalStore(self.db)
        self.supervisor = Supervisor(self.db)
        self.platform = LocalPlatform(self.store, self.supervisor)
        self.admin, self.proxy_pid = ensure_proxy(state_dir, proxy_admin_port)
        self.router = BundledProxyRouter(self.admin, self.platform.endpoints)
        self.metrics = ControllerMetrics(mesh_provider="sluice")
        self.queue = DeliveryQueue()
        self.dispatcher = Dispatcher(
            self.queue,
            providers=lambda ns, name: self._get(AlertProvider, "AlertProvider", ns, name),
            secrets=local_secrets(),
            defaults=default_endpoints(),
            cluster="local",
        )
        admin_url = self.admin.base_url
        self.runner = TickRunner(
            store=self.store,
            platform=self.platform,
            router=self.router,
            checks=check_runner(
                lambda canary: builtin_provider(
                    canary, metrics_server=metrics_server, proxy_admin_url=admin_url
                ),
                lambda name, ns: self._get(MetricTemplate, "MetricTemplate", ns, name),
                lambda template: provider_for_template(
                    template, secrets=secrets_from_env(), default_address=metrics_server
                ),
            ),
            hooks=hook_caller(),
            alert=alert_sink(self.dispatcher),
            metrics=self.metrics,
            background=lambda work: threading.Thread(target=work, daemon=True).start(),
            after_reconcile=self._retire_old_primary,
            forget=self._forget,
        )
        self.scheduler = CanaryScheduler(self._jobs, self.runner, sync_seconds=sync_seconds)

    def start(self) -> None:
        self.supervisor.start()
        self.queue.start()
        self.scheduler.start()

    def stop(self, everything: bool = False) -> None:
        """Stop deciding. Workload processes and the proxy keep serving for the next controller, unless
        `everything` (the demo's clean exit): then they are stopped too."""
        self.scheduler.stop()
        self.queue.stop()
        self.supervisor.close(stop_processes=everything)
        if everything:
            stop_proxy(self.state_dir)

    def _jobs(self) -> list[JobSpec]:
        self._keep_proxy()
        jobs = []
        for canary in self.store.list_canaries():
            interval = canary.spec.get_analysis().interval_seconds()
            jobs.append(JobSpec(canary.metadata.namespace, canary.metadata.name, interval))
        return jobs

    def _keep_proxy(self) -> None:
        """A proxy that died is started again on the same admin port (so analysis URLs stay valid); the next
        tick's reconcile gives it the canaries' services back at the weights their status records."""
        if self.admin.healthy():
            return
        port = int(self.admin.base_url.rsplit(":", 1)[1])
        log.warning("the bundled proxy (pid %s) does not answer; starting it again", self.proxy_pid)
        self.admin, self.proxy_pid = ensure_proxy(self.state_dir, port)
        self.router.admin = self.admin

    def _retire_old_primary(self, canary: Canary) -> None:
        self.platform.retire_old_primary(canary, self.router.routed(canary, "primary"))

    def _forget(self, canary: Canary) -> None:
        if not canary.spec.revert_on_deletion:
            self.platform.delete(canary)
        self.router.finalize(canary)
        self.store.remove("Canary", canary.metadata.namespace, canary.metadata.name)

    def _get(self, model: type, kind: str, namespace: str, name: str):
        try:
            found = self.store.get(kind, namespace, name)
        except NotFound:
            return None
        return found if isinstance(found, model) else None
