"""The MetricTemplates in examples/metric-templates load, and render with the variables they document."""

from __future__ import annotations

from pathlib import Path

import pytest

from analysis.checks import run_checks
from analysis.queries import query_variables, render
from controller.api.canary import Canary
from controller.api.loading import load_paths
from controller.api.metric_template import MetricTemplate
from tests.unit.analysis.canaries import canary
from tests.unit.analysis.fake_provider import FakeProvider

FOLDER = Path(__file__).resolve().parents[3] / "examples" / "metric-templates"


def examples() -> list:
    result = load_paths([FOLDER])
    assert not result.problems, result.problems
    return [loaded.resource for loaded in result.resources]


TEMPLATES = [r for r in examples() if isinstance(r, MetricTemplate)]


@pytest.mark.parametrize("template", TEMPLATES, ids=lambda t: t.metadata.name)
def test_example_renders(template: MetricTemplate):
    c = canary(
        [
            {
                "name": "m",
                "templateRef": {"name": template.metadata.name},
                "templateVariables": {"direction": "inbound", "quantile": "0.95"},
            }
        ]
    )
    text = render(template.spec.query, query_variables(c, c.spec.get_analysis().metrics[0]), "example")
    assert "{{" not in text and '"test"' in text and "[1m]" in text


def test_example_canary_is_judged_by_the_example_templates():
    (example,) = [r for r in examples() if isinstance(r, Canary)]
    by_name = {(t.metadata.name, t.metadata.namespace): t for t in TEMPLATES}
    provider = FakeProvider(
        {
            "increase(": 500.0,
            'status_class="5xx"': 0.2,
            "histogram_quantile(0.95": 104.0,
            "status_class!=": 99.9,
            "histogram_quantile(0.99": 80.0,
        }
    )
    verdicts = run_checks(
        example,
        builtin=provider,
        templates=lambda n, ns: by_name.get((n, ns)),
        template_provider=lambda t: provider,
    )
    assert [(v.metric, v.outcome) for v in verdicts] == [
        ("request-success-rate", "pass"),
        ("request-duration", "pass"),
        ("error-rate", "pass"),
        ("latency-vs-primary", "pass"),
    ]
