import re

import pytest

from analysis.builtin import REQUEST_COUNT, TEMPLATES, builtin_query, flavor
from analysis.errors import MetricConfigError
from tests.unit.analysis.canaries import canary

FLAVORS = ["sluice", "linkerd", "istio", "osm", "http", "proxy-window"]
METRICS = ["request-success-rate", "request-duration", REQUEST_COUNT]


@pytest.mark.parametrize(
    ("provider", "expected"),
    [
        (None, "sluice"),
        ("sluice", "sluice"),
        ("smi:v1alpha3", "sluice"),
        ("smi:v1alpha2:linkerd", "linkerd"),
        ("linkerd", "linkerd"),
        ("istio", "istio"),
        ("osm", "osm"),
        ("kubernetes", "http"),
        ("gatewayapi:v1beta1", "http"),
    ],
)
def test_flavor_follows_the_mesh_for_promql(provider, expected):
    assert flavor("promql", provider) == expected


def test_proxy_windows_ignore_the_mesh():
    assert flavor("proxy-window", "istio") == "proxy-window"


def test_unknown_mesh_is_a_clear_error():
    with pytest.raises(
        MetricConfigError, match=r"spec.provider 'nginx': sluice has no builtin .* MetricTemplate"
    ):
        flavor("promql", "nginx")


def test_every_flavor_has_every_query_file():
    assert {p.name for p in TEMPLATES.glob("*.j2")} == {f"{f}.{m}.j2" for f in FLAVORS for m in METRICS}


@pytest.mark.parametrize("provider", ["sluice", "linkerd", "istio", "osm", "kubernetes"])
@pytest.mark.parametrize("metric", METRICS)
def test_builtin_queries_render_for_every_mesh(provider, metric):
    c = canary([{"name": "request-success-rate", "interval": "2m"}], provider=provider)
    text = builtin_query(metric, c, c.spec.get_analysis().metrics[0], "promql")
    assert "{{" not in text and "[2m]" in text and '"test"' in text
    assert text.count("(") == text.count(")")


def test_sluice_queries_measure_the_canary_backend():
    c = canary([{"name": "request-duration"}])
    metric = c.spec.get_analysis().metrics[0]
    duration = builtin_query("request-duration", c, metric, "promql")
    assert re.fullmatch(
        r"histogram_quantile\(0\.99, sum\(rate\(sluice_proxy_request_duration_seconds_bucket\{"
        r'namespace="test", '
        r'service="podinfo", backend="podinfo-canary"\}\[1m\]\)\) by \(le\)\)\s*\* 1000',
        duration,
    )
    success = builtin_query("request-success-rate", c, metric, "promql")
    assert 'status_class!="5xx"' in success and success.endswith("* 100")


def test_linkerd_queries_are_flaggers():
    c = canary([{"name": "request-success-rate"}], provider="linkerd")
    text = " ".join(
        builtin_query("request-success-rate", c, c.spec.get_analysis().metrics[0], "promql").split()
    )
    assert text == (
        'sum(rate(response_total{namespace="test", deployment=~"podinfo", classification!="failure", '
        'direction="inbound"}[1m])) / sum(rate(response_total{namespace="test", deployment=~"podinfo", '
        'direction="inbound"}[1m])) * 100'
    )


def test_proxy_window_queries():
    c = canary([{"name": "request-success-rate", "interval": "30s"}])
    metric = c.spec.get_analysis().metrics[0]
    assert builtin_query("request-success-rate", c, metric, "proxy-window") == (
        "request-success-rate service=podinfo backend=podinfo-canary window=30s"
    )
