"""The Canary resource (`sluice.dev/v1beta1`), field-compatible with Flagger's `flagger.app/v1beta1`.

Field names and defaults follow Flagger (see docs/crd-reference.md); sluice extensions are optional and
additive. Python attributes are snake_case; the wire form is camelCase.

Two levels of rules: each part checks its own values (ranges, durations, enums) wherever it is built,
while the completeness rules of Flagger's CRD (an analysis with interval, threshold and exactly one of
iterations / stepWeight / stepWeights; a targetRef kind) are checked on the whole `Canary` document, so
code and tests may build partial specs and lean on the defaults.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, ValidationInfo, field_validator, model_validator

from controller.api.base import API_VERSION, Model
from controller.api.durations import Duration, parse_duration
from controller.api.matches import HTTPMatchRequest as HTTPMatchRequest  # re-exported for the routers
from controller.api.matches import StringMatch as StringMatch  # re-exported for the routers
from controller.api.meta import ObjectMeta
from controller.api.problems import Path, raise_if_any
from controller.api.ranges import NonNegative, Percent, Port, Positive, Weight, at_least, between
from controller.api.references import (
    TARGET_KINDS,
    AutoscalerReference,
    CrossNamespaceObjectReference,
    LocalObjectReference,
    one_of,
)
from controller.api.status import CanaryStatus

Strategy = Literal["canary", "ab", "bluegreen"]
HookType = Literal[
    "confirm-rollout",
    "pre-rollout",
    "rollout",
    "confirm-traffic-increase",
    "confirm-promotion",
    "post-rollout",
    "rollback",
    "event",
]
GATE_HOOKS: tuple[HookType, ...] = ("confirm-rollout", "confirm-traffic-increase", "confirm-promotion")
Severity = Literal["info", "warn", "error"]
BUILTIN_METRICS = ("request-success-rate", "request-duration")


class SessionAffinity(Model):
    cookie_name: str
    max_age: NonNegative = 86400
    primary_cookie_name: str | None = None
    domain: str | None = None
    http_only: bool | None = None
    partitioned: bool | None = None
    path: str | None = None
    same_site: str | None = None
    secure: bool | None = None

    @model_validator(mode="after")
    def _distinct_cookies(self) -> SessionAffinity:
        if self.primary_cookie_name is not None and self.primary_cookie_name == self.cookie_name:
            raise_if_any(
                [(("primaryCookieName",), f"must differ from cookieName (both {self.cookie_name!r})")]
            )
        return self


class ThresholdRange(Model):
    min: float | None = None
    max: float | None = None

    @model_validator(mode="after")
    def _ordered(self) -> ThresholdRange:
        if self.min is not None and self.max is not None and self.min > self.max:
            raise_if_any([(("min",), f"must not be greater than max ({self.min:g} > {self.max:g})")])
        return self


class CanaryMetric(Model):
    name: str
    interval: Duration | None = None
    threshold: float | None = None
    threshold_range: ThresholdRange | None = None
    query: str | None = None
    template_ref: CrossNamespaceObjectReference | None = None
    template_variables: dict[str, str] | None = None
    # sluice: the canary must have seen at least this many requests in the window to be judged.
    min_requests: NonNegative | None = None

    @model_validator(mode="after")
    def _has_a_source(self) -> CanaryMetric:
        if self.name not in BUILTIN_METRICS and self.template_ref is None and not self.query:
            raise_if_any(
                [
                    (
                        ("templateRef",),
                        f"required: {self.name!r} is not a builtin metric ({', '.join(BUILTIN_METRICS)}); "
                        "set templateRef (or query)",
                    )
                ]
            )
        return self


JudgeDirection = Literal["increase", "decrease", "either"]
JUDGE_BUILTINS: dict[str, JudgeDirection] = {
    "request-success-rate": "decrease",
    "request-duration": "increase",
}


def _real(low: float, high: float, *, open_low: bool = False) -> Callable[[float], float]:
    """A bounded float with the wording of controller.api.ranges (the CRD reads `low`/`high` off it)."""

    def check(value: float) -> float:
        if value < low or value > high or (open_low and value == low):
            raise ValueError(f"must be in {'(' if open_low else '['}{low:g}, {high:g}] (got {value:g})")
        return value

    return check


def _real_above(low: float, *, open_low: bool = False) -> Callable[[float], float]:
    def check(value: float) -> float:
        if value < low or (open_low and value == low):
            raise ValueError(f"must be {'greater than' if open_low else 'at least'} {low:g} (got {value:g})")
        return value

    return check


Score = Annotated[float, AfterValidator(_real(0, 100))]


class JudgeMetric(Model):
    """sluice: one metric the judge compares between canary and primary (see docs/judge.md)."""

    name: str
    builtin: Literal["request-success-rate", "request-duration"] | None = None
    query: str | None = None
    direction: JudgeDirection | None = None
    tolerance: Annotated[float, AfterValidator(_real_above(0))] | None = None
    weight: Annotated[float, AfterValidator(_real_above(0, open_low=True))] = 1.0
    critical: bool = False

    @model_validator(mode="after")
    def _one_source(self) -> JudgeMetric:
        if self.builtin is not None and self.query:
            raise_if_any([(("query",), "set builtin or query, not both")])
        if self.builtin is None and not self.query and self.name not in JUDGE_BUILTINS:
            raise_if_any(
                [
                    (
                        ("query",),
                        f"required: {self.name!r} is not a builtin ({', '.join(JUDGE_BUILTINS)}); "
                        "set builtin or query",
                    )
                ]
            )
        return self

    def builtin_name(self) -> str | None:
        """The builtin this metric samples: `builtin`, else its name when that is a builtin and no query."""
        if self.builtin is not None:
            return self.builtin
        return None if self.query else self.name

    def effective_direction(self) -> JudgeDirection:
        """Which change is bad: builtins know theirs (success rate down, duration up); queries: either."""
        builtin = self.builtin_name()
        return self.direction or (JUDGE_BUILTINS[builtin] if builtin else "either")

    def effective_tolerance(self) -> float:
        """Relative change of the canary's mean that passes even when significant (1% for success rate)."""
        if self.tolerance is not None:
            return self.tolerance
        return 0.01 if self.builtin_name() == "request-success-rate" else 0.1


class CanaryJudge(Model):
    """sluice: the canary-vs-primary judge (Mann-Whitney U per metric, weighted score; docs/judge.md)."""

    pass_score: Score = 90.0
    marginal_score: Score = 75.0
    alpha: Annotated[float, AfterValidator(_real(0, 0.5, open_low=True))] = 0.05
    interval: Duration = "1m"
    step: Duration = "1s"
    min_samples: Annotated[int, AfterValidator(at_least(2))] = 10
    metrics: list[JudgeMetric]

    @field_validator("metrics")
    @classmethod
    def _named_once(cls, metrics: list[JudgeMetric]) -> list[JudgeMetric]:
        problems: list[tuple[Path, str]] = [((), "must list at least one metric")] if not metrics else []
        first: dict[str, int] = {}
        for index, metric in enumerate(metrics):
            if metric.name in first:
                problems.append(
                    ((index, "name"), f"{metric.name!r} is already used by metrics[{first[metric.name]}]")
                )
            first.setdefault(metric.name, index)
        raise_if_any(problems)
        return metrics

    @model_validator(mode="after")
    def _scores_ordered(self) -> CanaryJudge:
        problems: list[tuple[Path, str]] = []
        if self.marginal_score > self.pass_score:
            problems.append(
                (
                    ("marginalScore",),
                    f"must not exceed passScore ({self.marginal_score:g} > {self.pass_score:g})",
                )
            )
        if parse_duration(self.step) > parse_duration(self.interval) / 2:
            problems.append(
                (("step",), f"must be at most half of interval {self.interval} (got {self.step})")
            )
        elif parse_duration(self.step) < 1:
            problems.append((("step",), f"must be at least 1s (got {self.step})"))
        raise_if_any(problems)
        return self

    def interval_seconds(self) -> int:
        return max(1, round(parse_duration(self.interval)))

    def step_seconds(self) -> int:
        return max(1, round(parse_duration(self.step)))


class CanaryWebhook(Model):
    name: str
    type: HookType | None = None
    url: str
    timeout: Duration | None = None
    retries: NonNegative | None = None
    metadata: dict[str, str] | None = None
    mute_alert: bool = False
    disable_tls: bool = Field(default=False, alias="disableTLS")
    # sluice: give up waiting on a confirm-* gate after this long (the rollout is then rolled back).
    gate_timeout: Duration | None = None

    def hook_type(self) -> HookType:
        """Flagger treats a webhook without a type as a `rollout` hook."""
        return self.type or "rollout"

    @model_validator(mode="after")
    def _gate_timeout_on_gates(self) -> CanaryWebhook:
        if self.gate_timeout is not None and self.hook_type() not in GATE_HOOKS:
            raise_if_any(
                [
                    (
                        ("gateTimeout",),
                        f"only applies to {', '.join(GATE_HOOKS)} webhooks (this one is {self.hook_type()})",
                    )
                ]
            )
        return self


class CanaryAlertProviderRef(Model):
    name: str
    namespace: str | None = None


class CanaryAlert(Model):
    name: str
    severity: Severity = "info"
    provider_ref: CanaryAlertProviderRef


class CanaryAnalysis(Model):
    interval: Duration = "60s"
    threshold: NonNegative = 0
    max_weight: Weight | None = None
    step_weight: Weight = 0
    step_weights: list[int] | None = None
    step_weight_promotion: Percent = 0
    iterations: Positive = 0
    mirror: bool = False
    mirror_weight: Percent | None = None
    match: list[HTTPMatchRequest] | None = None
    session_affinity: SessionAffinity | None = None
    primary_ready_threshold: Percent | None = None
    canary_ready_threshold: Percent | None = None
    metrics: list[CanaryMetric] | None = None
    webhooks: list[CanaryWebhook] | None = None
    alerts: list[CanaryAlert] | None = None
    # sluice: compare the canary with the primary statistically (analysis/judge.py).
    judge: CanaryJudge | None = None
    # sluice: name the strategy instead of deriving it from iterations/match.
    strategy: Strategy | None = None

    @field_validator("step_weights")
    @classmethod
    def _weights_ascending(cls, weights: list[int] | None) -> list[int] | None:
        """All problems at once: a range error at one index should not hide an order error at another."""
        if weights is None:
            return None
        problems: list[tuple[Path, str]] = [((), "must list at least one weight")] if not weights else []
        for index, weight in enumerate(weights):
            try:
                between(1, 100)(weight)
            except ValueError as error:
                problems.append(((index,), str(error)))
            else:
                if index and weight <= weights[index - 1]:
                    problems.append(
                        ((index,), f"must be greater than the step before it ({weights[index - 1]})")
                    )
        raise_if_any(problems)
        return weights

    @field_validator("metrics", "webhooks")
    @classmethod
    def _unique_names(
        cls, items: Sequence[CanaryMetric | CanaryWebhook] | None, info: ValidationInfo
    ) -> Sequence | None:
        """Checks and gates are reported and approved by name, so a name must say which one."""
        first: dict[str, int] = {}
        problems: list[tuple[Path, str]] = []
        for index, item in enumerate(items or ()):
            if item.name in first:
                earlier = f"{info.field_name}[{first[item.name]}]"
                problems.append(((index, "name"), f"{item.name!r} is already used by {earlier}"))
            first.setdefault(item.name, index)
        raise_if_any(problems)
        return items

    def interval_seconds(self) -> float:
        """Tick period; Flagger clamps anything below 10s to 10s (sluice allows 1s for local demos)."""
        return max(parse_duration(self.interval), 1.0)

    def failed_checks_threshold(self) -> int:
        return self.threshold if self.threshold > 0 else 1

    def effective_max_weight(self) -> int:
        if self.max_weight:
            return min(self.max_weight, 100)
        if self.step_weights:
            return min(self.step_weights[-1], 100)
        return 100

    def effective_strategy(self) -> Strategy:
        if self.strategy:
            return self.strategy
        if self.iterations > 0:
            return "ab" if self.match else "bluegreen"
        return "canary"

    def completeness_problems(self) -> list[tuple[Path, str]]:
        """Flagger's CRD oneOf: interval, threshold and exactly one of iterations/stepWeight/stepWeights;
        with an explicit `strategy`, the field that strategy steps by."""
        given = self.model_fields_set
        problems: list[tuple[Path, str]] = [
            ((name,), "required") for name in ("interval", "threshold") if name not in given
        ]
        progress = [alias for name, alias in _PROGRESS_FIELDS.items() if name in given]
        if self.judge is not None and not self.metrics:
            problems.append(
                (
                    ("metrics",),
                    "required with judge: the judge runs with the metric checks, list at least one "
                    "(e.g. request-success-rate with minRequests)",
                )
            )
        if len(progress) > 1:
            problems.append(
                (
                    (progress[1],),
                    f"set only one of iterations, stepWeight, stepWeights (got {' and '.join(progress)})",
                )
            )
        if self.strategy is None:
            if not progress:
                problems.append(
                    ((), "needs one of iterations (A/B, blue/green) or stepWeight / stepWeights (canary)")
                )
            return problems
        if self.strategy == "canary":
            if "iterations" in given:
                problems.append(
                    (("iterations",), "not used by strategy canary (use stepWeight or stepWeights)")
                )
            elif not progress:
                problems.append((("stepWeight",), "required by strategy canary (or stepWeights)"))
            return problems
        if "iterations" not in given:
            problems.append((("iterations",), f"required by strategy {self.strategy}"))
        if self.strategy == "ab" and not self.match:
            problems.append((("match",), "required by strategy ab (the requests to send to the canary)"))
        if self.strategy == "bluegreen" and self.match:
            problems.append(
                (("match",), "not used by strategy bluegreen (use strategy ab to route by match)")
            )
        return problems


_PROGRESS_FIELDS = {"iterations": "iterations", "step_weight": "stepWeight", "step_weights": "stepWeights"}


class CanaryService(Model):
    name: str | None = None
    port: Port
    port_name: str | None = None
    target_port: int | str | None = None
    app_protocol: str | None = None
    port_discovery: bool = False
    headless: bool = False
    traffic_distribution: str | None = None
    timeout: Duration | None = None
    backend_timeout: Duration | None = None
    retries: dict[str, Any] | None = None
    headers: dict[str, Any] | None = None
    cors_policy: dict[str, Any] | None = None
    rewrite: dict[str, Any] | None = None
    match: list[HTTPMatchRequest] | None = None
    gateways: list[str] | None = None
    hosts: list[str] | None = None
    delegation: bool | None = None
    traffic_policy: dict[str, Any] | None = None
    gateway_refs: list[dict[str, Any]] | None = None
    mirror: list[dict[str, Any]] | None = None
    mesh_name: str | None = None
    backends: list[str] | None = None
    apex: dict[str, Any] | None = None
    primary: dict[str, Any] | None = None
    canary: dict[str, Any] | None = None
    unmanaged_metadata: dict[str, Any] | None = None


class CanarySpec(Model):
    provider: str | None = None
    metrics_server: str | None = None
    target_ref: LocalObjectReference
    autoscaler_ref: AutoscalerReference | None = None
    ingress_ref: LocalObjectReference | None = None
    route_ref: LocalObjectReference | None = None
    upstream_ref: CrossNamespaceObjectReference | None = None
    service: CanaryService
    analysis: CanaryAnalysis | None = None
    canary_analysis: CanaryAnalysis | None = None
    progress_deadline_seconds: Positive = 600
    skip_analysis: bool = False
    revert_on_deletion: bool = False
    suspend: bool = False

    @field_validator("target_ref")
    @classmethod
    def _known_target_kind(cls, ref: LocalObjectReference) -> LocalObjectReference:
        if ref.kind is not None:
            try:
                one_of(ref.kind, TARGET_KINDS)
            except ValueError as error:
                raise_if_any([(("kind",), str(error))])
        return ref

    def get_analysis(self) -> CanaryAnalysis:
        """`analysis`, or its deprecated alias `canaryAnalysis`, or defaults."""
        return self.analysis or self.canary_analysis or CanaryAnalysis()

    def apex_name(self) -> str:
        return self.service.name or self.target_ref.name

    def completeness_problems(self) -> list[tuple[Path, str]]:
        problems: list[tuple[Path, str]] = []
        if self.target_ref.kind is None:
            problems.append((("targetRef", "kind"), f"required (one of {', '.join(TARGET_KINDS)})"))
        if self.analysis is not None and self.canary_analysis is not None:
            problems.append(
                (("canaryAnalysis",), "set analysis or its deprecated alias canaryAnalysis, not both")
            )
        elif self.analysis is None and self.canary_analysis is None:
            problems.append(
                (
                    ("analysis",),
                    "required (interval, threshold and one of iterations, stepWeight, stepWeights)",
                )
            )
        else:
            field = "analysis" if self.analysis is not None else "canaryAnalysis"
            problems += [
                ((field, *path), reason) for path, reason in self.get_analysis().completeness_problems()
            ]
        return problems


class Canary(Model):
    api_version: Literal["sluice.dev/v1beta1"] = API_VERSION
    kind: Literal["Canary"] = "Canary"
    metadata: ObjectMeta
    spec: CanarySpec
    status: CanaryStatus | None = None

    @model_validator(mode="after")
    def _complete(self) -> Canary:
        raise_if_any([(("spec", *path), reason) for path, reason in self.spec.completeness_problems()])
        return self
