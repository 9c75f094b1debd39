from analysis.validation import metric_problems, offline_providers
from tests.unit.analysis.canaries import canary, template
from tests.unit.analysis.fake_provider import FakeProvider

TEMPLATES = {
    ("errors", "test"): template(
        "errors", 'sum(rate(errors{app="{{ target }}", dir="{{ variables.dir }}"}[1m]))'
    ),
    ("dd", "test"): template("dd", "avg:errors{service:{{ target }}}", type="datadog"),
}


def lookup(name: str, namespace: str):
    return TEMPLATES.get((name, namespace))


def test_a_sound_canary_has_no_problems():
    metrics = [
        {"name": "request-success-rate", "thresholdRange": {"min": 99}},
        {
            "name": "errors",
            "templateRef": {"name": "errors"},
            "templateVariables": {"dir": "in"},
            "minRequests": 5,
        },
    ]
    assert metric_problems(canary(metrics), lookup) == []
    assert metric_problems(canary(metrics), lookup, dialect="proxy-window") == []


def test_every_broken_metric_is_named_once():
    metrics = [
        {"name": "request-duration", "thresholdRange": {"max": 500}},
        {"name": "errors", "templateRef": {"name": "errors"}},
        {"name": "gone", "templateRef": {"name": "gone", "namespace": "shared"}},
        {"name": "dd", "templateRef": {"name": "dd"}},
    ]
    problems = metric_problems(canary(metrics, provider="nginx"), lookup)
    assert [p.split(":")[0] for p in problems] == [
        "metrics[0] (request-duration)",
        "metrics[1] (errors)",
        "metrics[2] (gone)",
        "metrics[3] (dd)",
    ]
    assert "spec.provider 'nginx': sluice has no builtin" in problems[0]
    assert "MetricTemplate test/errors: undefined template variable 'variables.dir'" in problems[1]
    assert problems[2].endswith("templateRef: MetricTemplate shared/gone not found")
    assert problems[3].endswith("templateRef: provider.type 'datadog' is not supported")


def test_offline_providers_are_reported():
    metrics = [
        {"name": "request-success-rate", "thresholdRange": {"min": 99}},
        {"name": "errors", "templateRef": {"name": "errors"}, "templateVariables": {"dir": "in"}},
        {"name": "gone", "templateRef": {"name": "gone"}},
    ]
    up, down = FakeProvider({}), FakeProvider({}, online=False)
    assert offline_providers(canary(metrics), up, lookup, lambda t: up) == []
    assert offline_providers(canary(metrics), down, lookup, lambda t: down) == [
        "builtin metrics: metrics provider is offline",
        "MetricTemplate test/errors: metrics provider is offline",
    ]
