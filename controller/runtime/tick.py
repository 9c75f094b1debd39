"""One idempotent pass over one canary: observe, ask the engine, apply its actions, write status once.

Why this shape: Flagger's tick is a 300-line function whose call order is the state machine, with five
status writers. Here the order is fixed and short: the engine decides (pure), this module only observes
and applies. Live weights are read back from the router every tick rather than trusted from status, so a
restart mid-rollout resumes where the data plane is. Status is written once at the end with optimistic
concurrency; if that write conflicts, the next tick re-reads and decides again from the same live state,
so a step is never applied twice.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from controller import engine
from controller.api.canary import Canary, CanaryWebhook
from controller.api.routes import Routes
from controller.engine import (
    Alert,
    Decision,
    FinalizeRouting,
    HookResult,
    ManualCommand,
    MetricVerdict,
    Observations,
    PromoteToPrimary,
    RecordEvent,
    RevertTarget,
    RunHooks,
    ScaleCanaryFromZero,
    ScaleCanaryToZero,
    SetRoutes,
)
from controller.ports.platform import Platform
from controller.ports.router import Router
from controller.ports.store import Conflict, Event, NotFound
from controller.runtime.metrics import ControllerMetrics

log = logging.getLogger("sluice.tick")

# Adapters the wiring supplies, so the tick stays independent of how each mode talks to the world.
CheckRunner = Callable[[Canary], Sequence[MetricVerdict]]
HookCaller = Callable[[Canary, str, CanaryWebhook | None, RunHooks | None], Sequence[HookResult]]
AlertSink = Callable[[Canary, str, str, Decision], None]


@dataclass
class TickRunner:
    store: object  # controller.ports.store.Store, plus take_commands/enqueue_command for manual commands
    platform: Platform
    router: Router
    checks: CheckRunner
    hooks: HookCaller
    alert: AlertSink
    metrics: ControllerMetrics
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    # Fire-and-forget work (post-rollout and event hooks) is handed to this; default runs it inline.
    background: Callable[[Callable[[], object]], None] = lambda work: work()
    # Mode-specific follow-ups: after the routes are reconciled (local: retire an old primary the proxy no
    # longer uses), and once a deleted canary reached Terminated (drop it and what it owned).
    after_reconcile: Callable[[Canary], None] = lambda canary: None
    forget: Callable[[Canary], None] = lambda canary: None

    def __call__(self, namespace: str, name: str) -> Decision | None:
        try:
            canary = self.store.get_canary(namespace, name)
        except NotFound:
            return None
        began = time.monotonic()
        commands = self._take_commands(canary)
        try:
            decision = self._decide(canary, commands[:1])
            for action in decision.actions:
                self._apply(canary, action, decision)
            if decision.status.phase == "Terminated" and _deleting(canary):
                self.forget(canary)
            else:
                self.store.write_status(canary, decision.status)
        except Conflict:
            log.info("%s/%s changed during the tick; deciding again next tick", namespace, name)
            self._requeue(canary, commands)
            return None
        except Exception:
            self._requeue(canary, commands)
            raise
        self._requeue(canary, commands[1:])
        self.metrics.duration.labels(canary.spec.target_ref.name, namespace).observe(time.monotonic() - began)
        self.metrics.set_phase(canary.spec.target_ref.name, namespace, decision.status.phase)
        for check in decision.status.last_checks or []:
            if check.value is not None:
                self.metrics.metric_analysis.labels(canary.spec.target_ref.name, namespace, check.name).set(
                    check.value
                )
        log.info("%s/%s %s: %s", namespace, name, decision.status.phase, decision.reason)
        return decision

    def _decide(self, canary: Canary, commands: list[str]) -> Decision:
        now = self.clock()
        deleting = _deleting(canary)
        if not deleting:
            self.platform.initialize(canary)
            self.router.reconcile(canary)
            self.after_reconcile(canary)
        command = ManualCommand(kind=commands[0], id=uuid.uuid4().hex) if commands else None  # type: ignore[arg-type]
        observations = Observations(
            revision=self.platform.revision(canary),
            primary=self.platform.primary_readiness(canary),
            canary=self.platform.canary_readiness(canary),
            routes=self._live_routes(canary),
            command=command,
            deleting=deleting,
        )
        needs = engine.plan(canary, observations, now)
        results: list[HookResult] = []
        for hook_type in needs.hooks:
            results.extend(self.hooks(canary, hook_type, None, None))
        verdicts = tuple(self.checks(canary)) if needs.metrics else None
        observations = replace(observations, hooks=tuple(results), metrics=verdicts)
        return engine.advance(canary, observations, now)

    def _live_routes(self, canary: Canary) -> Routes | None:
        try:
            return self.router.get_routes(canary)
        except Exception as exc:  # nothing to read yet (first tick) is normal; the engine handles None
            log.debug("no live routes for %s: %s", canary.metadata.name, exc)
            return None

    def _apply(self, canary: Canary, action: object, decision: Decision) -> None:
        ns, target = canary.metadata.namespace, canary.spec.target_ref.name
        match action:
            case SetRoutes(routes=routes):
                self.router.set_routes(canary, routes)
                self.metrics.set_weights(target, ns, routes.primary_weight, routes.canary_weight)
            case ScaleCanaryToZero():
                self.platform.scale_to_zero(canary)
            case ScaleCanaryFromZero():
                self.platform.scale_from_zero(canary)
            case PromoteToPrimary():
                self.platform.promote(canary)
            case RevertTarget():
                self.platform.revert(canary)
            case FinalizeRouting():
                self.router.finalize(canary)
            case RunHooks() as run:
                self.background(lambda: self.hooks(canary, run.type, None, run))
            case Alert(severity=severity, message=message):
                self.alert(canary, severity, message, decision)
            case RecordEvent(type=event_type, message=message, reason=reason):
                self.store.record_event(Event(ns, canary.metadata.name, event_type, reason, message))
            case _:
                raise TypeError(f"unknown action {action!r}")
        self._count_outcome(canary, action)

    def _count_outcome(self, canary: Canary, action: object) -> None:
        if not isinstance(action, RunHooks) or action.type != "post-rollout":
            return
        labels = (
            canary.spec.target_ref.name,
            canary.metadata.namespace,
            canary.spec.get_analysis().effective_strategy(),
            "skipped" if canary.spec.skip_analysis else "completed",
        )
        counter = self.metrics.successes if action.phase == "Succeeded" else self.metrics.failures
        counter.labels(*labels).inc()

    def _take_commands(self, canary: Canary) -> list[str]:
        take = getattr(self.store, "take_commands", None)
        return list(take(canary.metadata.namespace, canary.metadata.name)) if take else []

    def _requeue(self, canary: Canary, commands: Sequence[str]) -> None:
        for command in commands:
            self.store.enqueue_command(canary.metadata.namespace, canary.metadata.name, command)


def _deleting(canary: Canary) -> bool:
    return bool((canary.metadata.model_extra or {}).get("deletionTimestamp"))
