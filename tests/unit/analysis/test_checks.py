"""Checks, tick by tick, against a fake provider that answers by the metric a query reads."""

from __future__ import annotations

import pytest

from analysis.checks import Verdict, judge, run_checks, threshold_range, worst
from analysis.errors import MetricConfigError
from analysis.providers.base import MultipleValues, NoValues, ProviderError
from tests.unit.analysis.canaries import canary, template
from tests.unit.analysis.fake_provider import FakeProvider

SUCCESS = {"name": "request-success-rate", "thresholdRange": {"min": 99}, "interval": "1m"}
DURATION = {"name": "request-duration", "thresholdRange": {"max": 500}, "interval": "1m"}
COUNT = "increase(sluice_proxy_requests_total"
RATE = "status_class!="
P99 = "histogram_quantile"


def check(metrics, answers, **kwargs) -> list[Verdict]:
    return run_checks(canary(metrics), builtin=FakeProvider(answers), **kwargs)


@pytest.mark.parametrize(
    ("answers", "outcomes", "reasons"),
    [
        (
            {COUNT: 120.0, RATE: 99.5, P99: 42.0},
            ["pass", "pass"],
            ["request-success-rate 99.50% >= min 99%", "request-duration 42.00ms <= max 500ms"],
        ),
        (
            {COUNT: 120.0, RATE: 91.2, P99: 812.0},
            ["fail", "fail"],
            ["request-success-rate 91.20% < min 99%", "request-duration 812.00ms > max 500ms"],
        ),
        (
            {COUNT: 0.0, RATE: 100.0, P99: 1.0},
            ["no-data", "no-data"],
            [
                "request-success-rate: insufficient data, canary served 0 requests in 1m (needs 1)",
                "request-duration: insufficient data, canary served 0 requests in 1m (needs 1)",
            ],
        ),
        (
            {},
            ["no-data", "no-data"],
            [
                "request-success-rate: insufficient data, canary served 0 requests in 1m (needs 1)",
                "request-duration: insufficient data, canary served 0 requests in 1m (needs 1)",
            ],
        ),
        (
            {COUNT: 10.0, RATE: NoValues("query returned NaN"), P99: 3.0},
            ["no-data", "pass"],
            [
                "request-success-rate: insufficient data, query returned NaN",
                "request-duration 3.00ms <= max 500ms",
            ],
        ),
        (
            {COUNT: ProviderError("prometheus unreachable")},
            ["fail", "fail"],
            [
                "request-success-rate: counting requests: prometheus unreachable",
                "request-duration: counting requests: prometheus unreachable",
            ],
        ),
        (
            {COUNT: 10.0, RATE: ProviderError("timed out"), P99: MultipleValues("query returned 2 series")},
            ["fail", "fail"],
            ["request-success-rate: provider error: timed out", "request-duration: query returned 2 series"],
        ),
    ],
    ids=["healthy", "bad", "idle", "no-series", "nan", "prometheus-down", "errors"],
)
def test_builtin_checks(answers, outcomes, reasons):
    verdicts = check([SUCCESS, DURATION], answers)
    assert [v.outcome for v in verdicts] == outcomes
    assert [v.reason for v in verdicts] == reasons


def test_verdict_records_query_value_and_range():
    (verdict,) = check([SUCCESS], {COUNT: 50.0, RATE: 91.2})
    assert (verdict.metric, verdict.value, verdict.min, verdict.max) == (
        "request-success-rate",
        91.2,
        99,
        None,
    )
    assert verdict.query.startswith("sum(rate(sluice_proxy_requests_total{") and RATE in verdict.query


def test_request_count_is_asked_once_per_tick_for_all_builtins():
    provider = FakeProvider({COUNT: 50.0, RATE: 100.0, P99: 5.0})
    run_checks(canary([SUCCESS, DURATION]), builtin=provider)
    assert sum(COUNT in q for q in provider.asked) == 1


def test_min_requests_raises_the_traffic_floor():
    (verdict,) = check([{**SUCCESS, "minRequests": 100}], {COUNT: 99.4, RATE: 100.0})
    assert verdict.outcome == "no-data"
    assert (
        verdict.reason
        == "request-success-rate: insufficient data, canary served 99.4 requests in 1m (needs 100)"
    )


@pytest.mark.parametrize(
    ("metric", "bounds"),
    [
        ({"name": "request-success-rate", "threshold": 99}, (99, None)),
        ({"name": "request-duration", "threshold": 500}, (None, 500)),
        ({"name": "request-duration", "threshold": 500, "thresholdRange": {"min": 1, "max": 2}}, (1, 2)),
        ({"name": "request-duration"}, (None, None)),
    ],
)
def test_deprecated_threshold(metric, bounds):
    assert threshold_range(canary([metric]).spec.get_analysis().metrics[0]) == bounds


@pytest.mark.parametrize(
    ("value", "outcome", "reason"),
    [
        (1.0, "pass", "errors 1.00 within [1, 5]"),
        (5.0, "pass", "errors 5.00 within [1, 5]"),
        (0.99, "fail", "errors 0.99 < min 1"),
        (5.01, "fail", "errors 5.01 > max 5"),
        (0.00042, "fail", "errors 0.00042 < min 1"),
    ],
)
def test_range_is_inclusive(value, outcome, reason):
    assert judge("errors", value, 1, 5) == (outcome, reason)


def test_no_range_records_the_value_without_judging():
    assert judge("rps", 3.0, None, None) == ("pass", "rps 3.00 (no thresholdRange: recorded, not judged)")


ERRORS_TEMPLATE = (
    'sum(rate(errors_total{namespace="{{ namespace }}", app="{{ target }}", dir="{{ variables.dir }}"}'
    "[{{ interval }}]))"
)


def template_check(metric_extra: dict, answers: dict, templates: dict):
    provider = FakeProvider(answers)
    metric = {
        "name": "errors",
        "templateRef": {"name": "errors"},
        "thresholdRange": {"max": 1},
        **metric_extra,
    }
    verdicts = run_checks(
        canary([metric]),
        builtin=provider,
        templates=lambda name, namespace: templates.get(f"{namespace}/{name}"),
        template_provider=lambda t: provider,
    )
    return verdicts[0], provider


def test_template_metric_renders_and_runs_on_its_provider():
    verdict, provider = template_check(
        {"templateVariables": {"dir": "in"}},
        {"errors_total": 0.5},
        {"test/errors": template("errors", ERRORS_TEMPLATE)},
    )
    assert verdict.outcome == "pass"
    assert verdict.query == 'sum(rate(errors_total{namespace="test", app="podinfo", dir="in"}[1m]))'
    assert provider.asked == [verdict.query]  # no traffic guard unless minRequests is set


def test_template_metric_with_min_requests_counts_canary_traffic_first():
    verdict, _ = template_check(
        {"templateVariables": {"dir": "in"}, "minRequests": 20},
        {COUNT: 3.0, "errors_total": 0.5},
        {"test/errors": template("errors", ERRORS_TEMPLATE)},
    )
    assert verdict.outcome == "no-data"
    assert verdict.reason == "errors: insufficient data, canary served 3 requests in 1m (needs 20)"


def test_undefined_template_variable_fails_naming_it():
    verdict, provider = template_check(
        {}, {"errors_total": 0.5}, {"test/errors": template("errors", ERRORS_TEMPLATE)}
    )
    assert verdict.outcome == "fail"
    assert verdict.reason.startswith(
        "errors: MetricTemplate test/errors: undefined template variable 'variables.dir'; defined: "
    )
    assert provider.asked == []


def test_missing_template_fails_naming_it():
    verdict, _ = template_check({"templateRef": {"name": "errors", "namespace": "shared"}}, {}, {})
    assert (verdict.outcome, verdict.reason) == (
        "fail",
        "errors: templateRef: MetricTemplate shared/errors not found",
    )


def test_template_provider_config_error_fails_the_metric():
    def broken(template):
        raise MetricConfigError("MetricTemplate test/errors: provider.type 'datadog' is not supported")

    verdicts = run_checks(
        canary([{"name": "errors", "templateRef": {"name": "errors"}}]),
        builtin=FakeProvider({}),
        templates=lambda name, namespace: template("errors", "up"),
        template_provider=broken,
    )
    assert (
        verdicts[0].reason == "errors: MetricTemplate test/errors: provider.type 'datadog' is not supported"
    )


def test_unknown_mesh_fails_builtins_with_the_reason():
    verdicts = run_checks(canary([SUCCESS], provider="nginx"), builtin=FakeProvider({}))
    assert verdicts[0].outcome == "fail"
    assert verdicts[0].reason.startswith("request-success-rate: spec.provider 'nginx': sluice has no builtin")


def test_inline_query_runs_as_written():
    provider = FakeProvider({"my_metric": 3.0})
    metric = {"name": "custom", "query": 'sum(my_metric{a="{{ not_jinja }}"})', "thresholdRange": {"max": 5}}
    (verdict,) = run_checks(canary([metric]), builtin=provider)
    assert verdict.outcome == "pass" and provider.asked == [metric["query"]]


@pytest.mark.parametrize(
    ("outcomes", "overall"),
    [
        (["pass", "pass"], "pass"),
        (["pass", "no-data"], "no-data"),
        (["no-data", "fail"], "fail"),
        ([], "pass"),
    ],
)
def test_worst(outcomes, overall):
    assert worst(Verdict("m", o, None, None, None, "", "") for o in outcomes) == overall


def test_verdict_unit_follows_the_metric():
    units = [
        Verdict(name, "pass", 1.0, None, None, "", "").unit
        for name in (SUCCESS["name"], DURATION["name"], "x")
    ]
    assert units == ["%", "ms", ""]
