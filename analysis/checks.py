"""One analysis tick's metric checks: run each metric's query and judge it against its range.

Three outcomes, not two. Flagger fails a check when the canary got no traffic ("no values found"), which
rolls back good versions that were merely idle, and users disable checks to get by (Flagger #883, #1035).
Here a check with too little traffic in the window is "no-data": the engine waits rather than passing or
failing, up to its limit. The traffic floor is `minRequests` on the metric; builtins always count the
canary's requests (at least DEFAULT_MIN_REQUESTS) before judging, so an idle canary can never pass.
Every verdict carries the query, the value, the range and a one-line reason, so a decision can be
explained in status, events and chat (Flagger #1810).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Literal

from analysis.builtin import BUILTIN_UNITS, REQUEST_COUNT, builtin_query, is_builtin
from analysis.errors import MetricConfigError
from analysis.providers.base import MetricProvider, MetricQueryError, MultipleValues, NoValues, ProviderError
from analysis.providers.registry import provider_for_template
from analysis.queries import DEFAULT_INTERVAL, query_variables, render
from controller.api.canary import Canary, CanaryMetric
from controller.api.metric_template import MetricTemplate

Outcome = Literal["pass", "fail", "no-data"]

# Builtins judge nothing until the canary has served at least this many requests in the window.
DEFAULT_MIN_REQUESTS = 1

# request-count query -> its value this tick, or why it failed (shared by the metrics of one tick).
Counts = dict[str, float | MetricQueryError]
# (name, namespace) -> the MetricTemplate, or None when there is none.
TemplateLookup = Callable[[str, str], MetricTemplate | None]
# A MetricTemplate -> the provider its spec.provider describes.
TemplateProviders = Callable[[MetricTemplate], MetricProvider]


@dataclass(frozen=True)
class Verdict:
    metric: str
    outcome: Outcome
    value: float | None
    min: float | None
    max: float | None
    query: str
    reason: str

    @property
    def unit(self) -> str:
        """What `value`, `min` and `max` are in: "%" or "ms" for the builtins, "" otherwise."""
        return BUILTIN_UNITS.get(self.metric, "")


@dataclass(frozen=True)
class Plan:
    """What a metric runs: its query, the template it came from (None: the builtin provider runs it),
    and how many canary requests the window must hold before it is judged (None: no guard)."""

    query: str
    template: MetricTemplate | None
    min_requests: int | None


def run_checks(
    canary: Canary,
    *,
    builtin: MetricProvider,
    templates: TemplateLookup = lambda name, namespace: None,
    template_provider: TemplateProviders = provider_for_template,
) -> list[Verdict]:
    """A verdict for every metric of the canary's analysis, in order. Never raises for bad metrics:
    a wrong configuration is a "fail" verdict whose reason names the metric and the problem.

    `builtin` answers builtin metrics, inline `query`s and request counts (see
    analysis.providers.registry.builtin_provider); `templates` finds MetricTemplates;
    `template_provider` builds the provider a template names.
    """
    counts: Counts = {}
    return [
        check_metric(canary, metric, builtin, templates, template_provider, counts)
        for metric in canary.spec.get_analysis().metrics or []
    ]


def check_metric(
    canary: Canary,
    metric: CanaryMetric,
    builtin: MetricProvider,
    templates: TemplateLookup,
    template_provider: TemplateProviders,
    counts: Counts | None = None,
) -> Verdict:
    """The verdict for one metric; `counts` memoises request counts shared by metrics of one tick."""
    low, high = threshold_range(metric)

    def verdict(outcome: Outcome, reason: str, query: str = "", value: float | None = None) -> Verdict:
        return Verdict(metric.name, outcome, value, low, high, query, reason)

    try:
        # A templated metric runs on its template's provider: don't ask the builtin one (there may be none).
        dialect = "" if metric.template_ref is not None else builtin.dialect
        plan = plan_metric(canary, metric, dialect, templates)
        provider = builtin if plan.template is None else template_provider(plan.template)
    except MetricConfigError as exc:
        return verdict("fail", f"{metric.name}: {exc}")
    if plan.min_requests:
        try:
            count_query = builtin_query(REQUEST_COUNT, canary, metric, builtin.dialect)
        except MetricConfigError as exc:
            return verdict("fail", f"{metric.name}: minRequests: {exc}", plan.query)
        count = _request_count(builtin, count_query, counts if counts is not None else {})
        if isinstance(count, MetricQueryError):
            return verdict("fail", f"{metric.name}: counting requests: {count}", plan.query)
        if count < plan.min_requests:
            interval = metric.interval or DEFAULT_INTERVAL
            return verdict(
                "no-data",
                f"{metric.name}: insufficient data, canary served {count:g} requests in {interval} "
                f"(needs {plan.min_requests})",
                plan.query,
            )
    try:
        value = provider.query(plan.query)
    except NoValues as exc:
        return verdict("no-data", f"{metric.name}: insufficient data, {exc}", plan.query)
    except MultipleValues as exc:
        return verdict("fail", f"{metric.name}: {exc}", plan.query)
    except ProviderError as exc:
        return verdict("fail", f"{metric.name}: provider error: {exc}", plan.query)
    outcome, reason = judge(metric.name, value, low, high, BUILTIN_UNITS.get(metric.name, ""))
    return verdict(outcome, reason, plan.query, value)


def threshold_range(metric: CanaryMetric) -> tuple[float | None, float | None]:
    """(min, max), inclusive. Deprecated `threshold` is a min for request-success-rate, else a max."""
    if metric.threshold_range is not None:
        return metric.threshold_range.min, metric.threshold_range.max
    if metric.threshold is not None:
        if metric.name == "request-success-rate":
            return metric.threshold, None
        return None, metric.threshold
    return None, None


def judge(
    name: str, value: float, low: float | None, high: float | None, unit: str = ""
) -> tuple[Outcome, str]:
    """Pass when low <= value <= high (a missing bound is open), with the one-line reason."""
    # Two decimals like "91.20%", but a small rate like 0.00042 keeps its digits rather than reading 0.00.
    number = f"{value:.2f}" if value == 0 or abs(value) >= 0.01 else f"{value:.3g}"
    shown = f"{name} {number}{unit}"
    if low is not None and value < low:
        return "fail", f"{shown} < min {low:g}{unit}"
    if high is not None and value > high:
        return "fail", f"{shown} > max {high:g}{unit}"
    if low is not None and high is not None:
        return "pass", f"{shown} within [{low:g}{unit}, {high:g}{unit}]"
    if low is not None:
        return "pass", f"{shown} >= min {low:g}{unit}"
    if high is not None:
        return "pass", f"{shown} <= max {high:g}{unit}"
    return "pass", f"{shown} (no thresholdRange: recorded, not judged)"


def worst(verdicts: Iterable[Verdict]) -> Outcome:
    """The tick's overall outcome: any fail fails it, else any no-data makes it wait, else it passes."""
    outcomes = {v.outcome for v in verdicts}
    return "fail" if "fail" in outcomes else "no-data" if "no-data" in outcomes else "pass"


def plan_metric(canary: Canary, metric: CanaryMetric, dialect: str, templates: TemplateLookup) -> Plan:
    """templateRef first, then the deprecated inline query (run as written, like Flagger), then builtins.

    Raises MetricConfigError (missing template, undefined variable, no builtin queries for the mesh).
    """
    if metric.template_ref is not None:
        ref = metric.template_ref
        namespace = ref.namespace or canary.metadata.namespace
        template = templates(ref.name, namespace)
        if template is None:
            raise MetricConfigError(f"templateRef: MetricTemplate {namespace}/{ref.name} not found")
        source = f"MetricTemplate {namespace}/{ref.name}"
        query = render(template.spec.query, query_variables(canary, metric), source)
        return Plan(_one_line(query), template, metric.min_requests)
    if metric.query:
        return Plan(metric.query, None, metric.min_requests)
    if is_builtin(metric.name):
        query = builtin_query(metric.name, canary, metric, dialect)
        return Plan(_one_line(query), None, metric.min_requests or DEFAULT_MIN_REQUESTS)
    raise MetricConfigError(
        f"not a builtin metric ({', '.join(BUILTIN_UNITS)}) and has neither templateRef nor query"
    )


def _one_line(query: str) -> str:
    """Whitespace collapsed, as Flagger sends queries; status and events show the query as sent."""
    return " ".join(query.split())


def _request_count(provider: MetricProvider, query: str, counts: Counts) -> float | MetricQueryError:
    """Requests the canary served (no series means none), or why they could not be counted."""
    if query not in counts:
        try:
            counts[query] = provider.query(query)
        except NoValues:
            counts[query] = 0.0
        except MetricQueryError as exc:
            counts[query] = exc
    return counts[query]
