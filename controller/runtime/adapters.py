"""Adapters from the I/O packages (hooks, analysis, notify) to the shapes the engine speaks.

Shared by every mode: local and Kubernetes differ in where things are stored, not in how a webhook is
called, a metric judged or a message sent.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence

from analysis.checks import TemplateLookup, TemplateProviders, run_checks
from analysis.judge import judge_canary
from analysis.providers.base import MetricProvider
from analysis.providers.registry import provider_for_template
from controller import hooks
from controller.api.canary import Canary, CanaryWebhook
from controller.engine import Decision, HookResult, MetricVerdict, RunHooks
from controller.notify.dispatcher import Dispatcher

# analysis speaks "no-data" for a canary that saw too little traffic; the engine calls it insufficient-data.
_OUTCOMES = {"pass": "pass", "fail": "fail", "no-data": "insufficient-data"}


def checksum(canary: Canary) -> str:
    """Flagger's payload checksum: what the canary runs (spec hash and tracked configs)."""
    status = canary.status
    if status is None:
        return ""
    text = f"{status.last_applied_spec or ''}{sorted((status.tracked_configs or {}).items())}"
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def hook_caller() -> Callable[[Canary, str, CanaryWebhook | None, RunHooks | None], Sequence[HookResult]]:
    def call(canary: Canary, hook_type: str, _webhook: CanaryWebhook | None, run: RunHooks | None):
        phase = run.phase if run else (canary.status.phase if canary.status else "")
        subject = hooks.HookSubject(canary.metadata.name, canary.metadata.namespace, phase, checksum(canary))
        event = hooks.HookEvent(run.message, run.event_type) if run and run.type == "event" else None
        webhooks = canary.spec.get_analysis().webhooks or []
        results = hooks.run_hooks(webhooks, hook_type, subject, event)  # type: ignore[arg-type]
        return [HookResult(r.name, r.type, r.ok, r.message) for r in results]

    return call


def check_runner(
    builtin: Callable[[Canary], MetricProvider],
    templates: TemplateLookup,
    template_provider: TemplateProviders = provider_for_template,
) -> Callable[[Canary], Sequence[MetricVerdict]]:
    """Runs a canary's checks; `template_provider` builds a MetricTemplate's provider (with the mode's
    secret lookup for `secretRef` credentials)."""

    def run(canary: Canary) -> Sequence[MetricVerdict]:
        provider = LazyProvider(lambda: builtin(canary))
        verdicts = run_checks(
            canary, builtin=provider, templates=templates, template_provider=template_provider
        )
        judged = judge_canary(canary, provider)  # analysis.judge: one more verdict, named "judge"
        if judged is not None:
            verdicts.append(judged)
        return [
            MetricVerdict(
                name=v.metric,
                outcome=_OUTCOMES[v.outcome],  # type: ignore[arg-type]
                value=v.value,
                min=v.min,
                max=v.max,
                unit=v.unit,
                query=v.query,
                reason=v.reason,
            )
            for v in verdicts
        ]

    return run


class LazyProvider:
    """The builtin provider, made on first use: a canary whose metrics all name MetricTemplates needs no
    default Prometheus, so a missing one must not fail its checks."""

    def __init__(self, make: Callable[[], MetricProvider]) -> None:
        self._make = make
        self._provider: MetricProvider | None = None

    def _get(self) -> MetricProvider:
        if self._provider is None:
            self._provider = self._make()
        return self._provider

    @property
    def dialect(self) -> str:
        return self._get().dialect

    def query(self, text: str) -> float:
        return self._get().query(text)

    def is_online(self) -> bool:
        return self._get().is_online()

    def __getattr__(self, name: str) -> object:  # samples() for the judge, when the provider has it
        return getattr(self._get(), name)


def alert_sink(dispatcher: Dispatcher) -> Callable[[Canary, str, str, Decision], None]:
    def alert(canary: Canary, severity: str, message: str, decision: Decision) -> None:
        dispatcher.notify(
            canary,
            severity,  # type: ignore[arg-type]
            message,
            reason=decision.reason,
            phase=decision.status.phase,
            canary_weight=decision.status.canary_weight,
        )

    return alert
