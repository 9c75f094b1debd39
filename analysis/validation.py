"""Metric mistakes found before a rollout starts, instead of as failed checks in the middle of one.

`sluice validate` and the runtime (while a canary initializes) call this with the MetricTemplates they
can see. It renders every query with the canary's variables without running it, so a missing template,
an undefined variable, an unsupported provider type or a mesh without builtin queries is reported once,
naming the metric, before any traffic moves.
"""

from __future__ import annotations

from analysis.builtin import REQUEST_COUNT, builtin_query
from analysis.checks import TemplateLookup, plan_metric
from analysis.errors import MetricConfigError
from analysis.providers.registry import FACTORIES
from controller.api.canary import Canary


def metric_problems(canary: Canary, templates: TemplateLookup, dialect: str = "promql") -> list[str]:
    """One line per metric that cannot run, `metrics[i] (name): what is wrong`; empty when all can."""
    problems = []
    for index, metric in enumerate(canary.spec.get_analysis().metrics or []):
        try:
            plan = plan_metric(canary, metric, dialect, templates)
            if plan.template is not None and plan.template.spec.provider.type not in FACTORIES:
                kind = plan.template.spec.provider.type
                raise MetricConfigError(f"templateRef: provider.type {kind!r} is not supported")
            if plan.min_requests:
                builtin_query(REQUEST_COUNT, canary, metric, dialect)
        except MetricConfigError as exc:
            problems.append(f"metrics[{index}] ({metric.name}): {exc}")
    return problems
