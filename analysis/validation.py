"""Metric mistakes found before a rollout starts, instead of as failed checks in the middle of one.

`sluice validate` and the runtime (while a canary initializes) call this with the MetricTemplates they
can see. It renders every query with the canary's variables without running it, so a missing template,
an undefined variable, an unsupported provider type or a mesh without builtin queries is reported once,
naming the metric, before any traffic moves. `offline_providers` is Flagger's availability probe while a
canary initializes: it reports, it does not decide.
"""

from __future__ import annotations

import contextlib

from analysis.builtin import REQUEST_COUNT, builtin_query
from analysis.checks import TemplateLookup, TemplateProviders, plan_metric
from analysis.errors import MetricConfigError
from analysis.providers.base import MetricProvider
from analysis.providers.registry import FACTORIES, provider_for_template
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


def offline_providers(
    canary: Canary,
    builtin: MetricProvider,
    templates: TemplateLookup,
    template_provider: TemplateProviders = provider_for_template,
) -> list[str]:
    """One line per provider the canary's metrics use that does not answer `is_online` now."""
    providers: dict[str, MetricProvider] = {"builtin metrics": builtin}
    for metric in canary.spec.get_analysis().metrics or []:
        ref = metric.template_ref
        template = ref and templates(ref.name, ref.namespace or canary.metadata.namespace)
        if template is None:
            continue
        where = f"MetricTemplate {template.metadata.namespace}/{template.metadata.name}"
        with contextlib.suppress(MetricConfigError):  # metric_problems reports it
            providers[where] = template_provider(template)
    return [f"{where}: metrics provider is offline" for where, p in providers.items() if not p.is_online()]
