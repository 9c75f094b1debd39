"""An in-memory world for driving the engine tick by tick: fake platform, router, hooks and metrics.

`World.tick()` does what the runtime does: observe, plan, gather what the plan asks for, advance,
apply the actions to the fakes, keep the status. Tests change the world between ticks and read back
phase, live weights and the decision's reason.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from controller.api.canary import Canary
from controller.api.routes import PRIMARY_ONLY, Routes
from controller.api.status import CanaryStatus
from controller.engine import (
    Action,
    Decision,
    HookResult,
    ManualCommand,
    MetricVerdict,
    Needs,
    Observations,
    ScaleCanaryFromZero,
    ScaleCanaryToZero,
    SetRoutes,
    advance,
    plan,
)
from controller.ports.platform import Readiness, Revision

START = datetime(2026, 11, 29, 12, 0, 0, tzinfo=UTC)
READY = Readiness("ready")
WAITING = Readiness("waiting", "1 of 2 updated replicas are available")
BROKEN = Readiness("failed", "ImagePullBackOff")

PASS = MetricVerdict("request-success-rate", "pass", value=99.9, min=99, unit="%")
LOW_SUCCESS = MetricVerdict("request-success-rate", "fail", value=91.2, min=99, unit="%")
FEW_REQUESTS = MetricVerdict(
    "request-success-rate", "insufficient-data",
    reason="request-success-rate: insufficient data, canary served 3 requests in 1m (needs 20)")
SLOW = MetricVerdict("request-duration", "fail", value=730, max=500, unit="ms",
                     reason="request-duration 730.00ms > max 500ms")


def make_canary(analysis: dict[str, Any], **spec: Any) -> Canary:
    """A canary as a user writes it; `analysis` defaults to interval 1m, threshold 5 and one metric."""
    body: dict[str, Any] = {
        "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "podinfo"},
        "service": {"port": 9898},
        "analysis": {
            "interval": "1m",
            "threshold": 5,
            "metrics": [{"name": "request-success-rate", "thresholdRange": {"min": 99}, "interval": "1m"}],
            **analysis,
        },
        **spec,
    }
    return Canary.model_validate({"metadata": {"name": "podinfo", "namespace": "test"}, "spec": body})


def hook(name: str, kind: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "type": kind, "url": f"http://hooks.test/{name}", **extra}


@dataclass
class World:
    canary: Canary
    revision: Revision = field(default_factory=lambda: Revision("v1"))
    primary: Readiness = READY
    canary_side: Readiness = READY
    routes: Routes = PRIMARY_ONLY
    # Webhook name -> True (2xx) or the error text it answers with; unlisted webhooks answer 2xx.
    hook_answers: dict[str, bool | str] = field(default_factory=dict)
    metrics: tuple[MetricVerdict, ...] = (PASS,)
    command: ManualCommand | None = None
    deleting: bool = False
    canary_replicas: int = 0
    now: datetime = START
    decisions: list[Decision] = field(default_factory=list)
    needs: list[Needs] = field(default_factory=list)

    @property
    def status(self) -> CanaryStatus:
        assert self.canary.status is not None
        return self.canary.status

    @property
    def phase(self) -> str:
        return self.canary.status.phase if self.canary.status else ""

    @property
    def weights(self) -> tuple[int, int]:
        return self.routes.primary_weight, self.routes.canary_weight

    def set_spec(self, **changes: Any) -> None:
        spec = self.canary.spec.model_copy(update=changes)
        self.canary = self.canary.model_copy(update={"spec": spec})

    def answers(self, kinds: tuple[str, ...]) -> tuple[HookResult, ...]:
        results = []
        for webhook in self.canary.spec.get_analysis().webhooks or []:
            if webhook.hook_type() in kinds:
                answer = self.hook_answers.get(webhook.name, True)
                message = "" if answer is True else str(answer)
                results.append(HookResult(webhook.name, webhook.hook_type(), answer is True, message))
        return tuple(results)

    def observe(self) -> Observations:
        return Observations(
            revision=self.revision, primary=self.primary, canary=self.canary_side, routes=self.routes,
            command=self.command, deleting=self.deleting)

    def tick(self) -> Decision:
        observations = self.observe()
        needs = plan(self.canary, observations, self.now)
        self.needs.append(needs)
        observations = replace(
            observations, hooks=self.answers(needs.hooks), metrics=self.metrics if needs.metrics else None)
        decision = advance(self.canary, observations, self.now)
        for action in decision.actions:
            self._apply(action)
        self.canary = self.canary.model_copy(update={"status": decision.status})
        self.decisions.append(decision)
        self.now += timedelta(seconds=self.canary.spec.get_analysis().interval_seconds())
        return decision

    def _apply(self, action: Action) -> None:
        if isinstance(action, SetRoutes):
            self.routes = action.routes
        elif isinstance(action, ScaleCanaryToZero):
            self.canary_replicas = 0
        elif isinstance(action, ScaleCanaryFromZero):
            self.canary_replicas = 2

    def ticks_until(self, done: Callable[[World], bool], limit: int = 50) -> list[Decision]:
        taken = []
        while not done(self):
            assert len(taken) < limit, f"not done after {limit} ticks; last: {self.decisions[-1].reason}"
            taken.append(self.tick())
        return taken

    def actions_of(self, kind: type) -> list[Any]:
        return [a for d in self.decisions for a in d.actions if isinstance(a, kind)]


@dataclass(frozen=True)
class Row:
    """One tick: change the world with `then`, tick, expect `phase`, live `weights`, a `reason` fragment."""

    phase: str
    weights: tuple[int, int] | None = None
    reason: str = ""
    then: Callable[[World], None] | None = None


def drive(world: World, rows: list[Row]) -> None:
    for number, row in enumerate(rows, 1):
        if row.then:
            row.then(world)
        decision = world.tick()
        where = f"row {number}: reason {decision.reason!r}"
        assert world.phase == row.phase, where
        if row.weights is not None:
            assert world.weights == row.weights, where
        assert row.reason in decision.reason, where


def initialized(canary: Canary, **world: Any) -> World:
    """A world whose canary has been bootstrapped on revision v1."""
    w = World(canary, **world)
    w.tick()
    assert w.phase == "Initialized", w.decisions[-1].reason
    return w


def set_revision(spec_hash: str, **configs: str) -> Callable[[World], None]:
    def change(world: World) -> None:
        world.revision = Revision(spec_hash, dict(configs))

    return change


def set_metrics(*verdicts: MetricVerdict) -> Callable[[World], None]:
    def change(world: World) -> None:
        world.metrics = verdicts

    return change


def answer(name: str, reply: bool | str) -> Callable[[World], None]:
    def change(world: World) -> None:
        world.hook_answers[name] = reply

    return change


def command(kind: str, number: int = 1) -> Callable[[World], None]:
    def change(world: World) -> None:
        world.command = ManualCommand(kind, f"{kind}-{number}", by="alice")  # type: ignore[arg-type]

    return change


def set_primary(readiness: Readiness) -> Callable[[World], None]:
    def change(world: World) -> None:
        world.primary = readiness

    return change


def set_canary(readiness: Readiness) -> Callable[[World], None]:
    def change(world: World) -> None:
        world.canary_side = readiness

    return change


def delete(world: World) -> None:
    world.deleting = True


def both(*changes: Callable[[World], None]) -> Callable[[World], None]:
    def change(world: World) -> None:
        for one in changes:
            one(world)

    return change
