"""Route a canary's rollout messages to its alert providers, filtered by severity, deduplicated, queued.

This is what the runtime calls: `notify(canary, severity, message, ...)` returns at once; delivery
happens on the DeliveryQueue's worker. Each `alerts[]` entry of the canary names an AlertProvider and
a severity: `info` receives everything, `warn` receives warn and error, `error` only error. A canary
without alerts goes to the controller's default destinations. The same state (canary, revision,
phase, weight, severity, message) is announced once per destination even if the engine repeats it
tick after tick (Flagger #1515).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping, Sequence

from controller.api.alert_provider import AlertProvider
from controller.api.canary import Canary
from controller.notify.endpoint import Endpoint, ProviderConfigError, SecretLookup, no_secrets, resolve
from controller.notify.http import DEFAULT_TIMEOUT
from controller.notify.metrics import count
from controller.notify.queue import DeliveryQueue
from controller.notify.registry import build
from controller.ports.notifier import SEVERITIES, Notification, Notifier, Severity

log = logging.getLogger(__name__)

# (namespace, name) -> the AlertProvider, or None when there is none.
ProviderLookup = Callable[[str, str], AlertProvider | None]


def accepts(alert_severity: Severity, message_severity: Severity) -> bool:
    """An alert at `info` gets all messages, at `warn` gets warn and error, at `error` only error."""
    return SEVERITIES.index(message_severity) >= SEVERITIES.index(alert_severity)


def notification_for(
    canary: Canary,
    severity: Severity,
    message: str,
    fields: Mapping[str, str] | None = None,
    *,
    cluster: str = "",
    reason: str = "",
    link: str | None = None,
    phase: str | None = None,
    canary_weight: int | None = None,
) -> Notification:
    """The Notification for `canary` as it stands (status phase and weight unless given)."""
    status = canary.status
    weight = canary_weight if canary_weight is not None else (status.canary_weight if status else 0)
    target = canary.spec.target_ref
    return Notification(
        canary=canary.metadata.name,
        namespace=canary.metadata.namespace,
        phase=phase if phase is not None else (status.phase if status else ""),
        severity=severity,
        message=message,
        fields=dict(fields or {}),
        cluster=cluster,
        target=f"{target.kind or 'Deployment'}/{target.name}.{canary.metadata.namespace}",
        canary_weight=weight,
        primary_weight=100 - weight,
        reason=reason,
        link=link,
        revision=(status.last_applied_spec or "") if status else "",
    )


class Dispatcher:
    def __init__(
        self,
        queue: DeliveryQueue,
        providers: ProviderLookup,
        secrets: SecretLookup = no_secrets,
        defaults: Sequence[Endpoint] = (),
        cluster: str = "",
        timeout: float = DEFAULT_TIMEOUT,
        link: Callable[[Canary], str | None] | None = None,
    ) -> None:
        self.queue = queue
        self.providers = providers
        self.secrets = secrets
        self.defaults = list(defaults)
        self.cluster = cluster
        self.timeout = timeout
        self.link = link
        self._lock = threading.Lock()
        # One notifier per resolved endpoint, so Slack bot mode keeps its per-rollout message.
        self._notifiers: dict[Endpoint, Notifier] = {}
        self._announced: dict[tuple[Endpoint, str, str], tuple] = {}

    def notify(
        self,
        canary: Canary,
        severity: Severity,
        message: str,
        fields: Mapping[str, str] | None = None,
        *,
        reason: str = "",
        link: str | None = None,
        phase: str | None = None,
        canary_weight: int | None = None,
    ) -> int:
        """Queue `message` for every destination of `canary` that takes `severity`; return how many.

        Never raises: a broken lookup or provider is logged and counted, and the rollout goes on.
        """
        try:
            return self._notify(canary, severity, message, fields, reason, link, phase, canary_weight)
        except Exception:
            count("unknown", "failed")
            log.exception(
                "notification for %s/%s not queued", canary.metadata.namespace, canary.metadata.name
            )
            return 0

    def _notify(
        self,
        canary: Canary,
        severity: Severity,
        message: str,
        fields: Mapping[str, str] | None,
        reason: str,
        link: str | None,
        phase: str | None,
        canary_weight: int | None,
    ) -> int:
        n = notification_for(
            canary,
            severity,
            message,
            fields,
            cluster=self.cluster,
            reason=reason,
            link=link if link is not None else (self.link(canary) if self.link else None),
            phase=phase,
            canary_weight=canary_weight,
        )
        queued = 0
        for endpoint in self.destinations(canary, severity):
            with self._lock:
                notifier = self._notifier(endpoint)
                seen = (endpoint, n.namespace, n.canary)
                if self._announced.get(seen) == n.dedupe_key():
                    count(endpoint.type, "duplicate")
                    continue
                self._announced[seen] = n.dedupe_key()
            self.queue.enqueue(notifier, n)
            queued += 1
        return queued

    def destinations(self, canary: Canary, severity: Severity) -> list[Endpoint]:
        alerts = canary.spec.get_analysis().alerts
        if not alerts:
            return list(self.defaults)
        endpoints = []
        for alert in alerts:
            if not accepts(alert.severity, severity):
                continue
            namespace = alert.provider_ref.namespace or canary.metadata.namespace
            where = f"canary {canary.metadata.namespace}/{canary.metadata.name} alert {alert.name!r}"
            provider = self.providers(namespace, alert.provider_ref.name)
            if provider is None:
                count("unknown", "misconfigured")
                log.error("%s: AlertProvider %s/%s not found", where, namespace, alert.provider_ref.name)
                continue
            try:
                endpoints.append(resolve(provider, self.secrets))
            except ProviderConfigError as exc:
                count(provider.spec.type, "misconfigured")
                log.error("%s: %s", where, exc)
        return endpoints

    def _notifier(self, endpoint: Endpoint) -> Notifier:
        notifier = self._notifiers.get(endpoint)
        if notifier is None:
            notifier = self._notifiers[endpoint] = build(endpoint, self.timeout)
        return notifier
