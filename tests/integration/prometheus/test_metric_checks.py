"""Metric checks against a real Prometheus scraping real counters moved by real HTTP traffic.

One Prometheus (1 s scrapes) and one metered app serve every test; each test drives its own service, so
the tests are independent of order. The app exports the bundled proxy's metric names (metered_app.py).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from analysis.checks import Verdict, run_checks
from analysis.providers.prometheus import PrometheusProvider
from analysis.providers.registry import provider_for_template
from controller.api.canary import Canary
from controller.api.loading import load_paths
from controller.api.metric_template import MetricTemplate
from tests.harness.net import free_port, wait_for_http
from tests.harness.poll import wait_until
from tests.harness.processes import running
from tests.harness.prometheus import PrometheusServer, running_prometheus
from tests.unit.analysis.canaries import canary

pytestmark = pytest.mark.prometheus

APP = Path(__file__).with_name("metered_app.py")
SERVICES = ("healthy", "faulty", "slow", "idle", "custom")
BUILTINS = [
    {"name": "request-success-rate", "interval": "1m", "thresholdRange": {"min": 99}},
    {"name": "request-duration", "interval": "1m", "thresholdRange": {"max": 100}},
]


@dataclass(frozen=True)
class Stack:
    app: str
    prometheus: PrometheusServer

    def send(
        self, service: str, backend: str, count: int, every_fifth_fails: bool = False, delay_ms: int = 0
    ):
        """`count` requests (8 at a time), then wait until Prometheus has scraped all of them."""

        def one(i: int) -> int:
            status = 500 if every_fifth_fails and i % 5 == 4 else 200
            return client.get(f"/{service}/{backend}?status={status}&delay_ms={delay_ms}").status_code

        with httpx.Client(base_url=self.app, timeout=5) as client, ThreadPoolExecutor(8) as pool:
            statuses = list(pool.map(one, range(count)))
        assert statuses.count(500) == (count // 5 if every_fifth_fails else 0)
        total = f'sum(sluice_proxy_requests_total{{service="{service}", backend="{backend}"}})'
        wait_until(
            lambda: self.prometheus.value(total) == count, timeout=10, what=f"{count} requests scraped"
        )

    def checks(self, canary: Canary, **kwargs) -> list[Verdict]:
        return run_checks(canary, builtin=PrometheusProvider(self.prometheus.url), **kwargs)


@pytest.fixture(scope="module")
def stack(tmp_path_factory) -> Iterator[Stack]:
    work = tmp_path_factory.mktemp("prometheus")
    port = free_port()
    declared = [arg for s in SERVICES for b in ("primary", "canary") for arg in ("--backend", f"{s}/{s}-{b}")]
    args = [sys.executable, str(APP), "--port", str(port), "--namespace", "test", *declared]
    with running(args, work / "app.log"):
        wait_for_http(f"http://127.0.0.1:{port}/metrics")
        with running_prometheus([f"127.0.0.1:{port}"], work) as prometheus:
            yield Stack(f"http://127.0.0.1:{port}", prometheus)


def test_healthy_canary_passes(stack: Stack):
    stack.send("healthy", "healthy-canary", 60)
    success, duration = stack.checks(canary(BUILTINS, name="healthy"))
    assert (success.outcome, success.value, success.reason) == (
        "pass",
        100.0,
        "request-success-rate 100.00% >= min 99%",
    )
    assert duration.outcome == "pass" and 0 < duration.value <= 100, duration.reason
    assert 'backend="healthy-canary"' in success.query


def test_canary_returning_20_percent_errors_fails(stack: Stack):
    stack.send("faulty", "faulty-canary", 100, every_fifth_fails=True)
    success, duration = stack.checks(canary(BUILTINS, name="faulty"))
    assert success.outcome == "fail"
    assert success.value == pytest.approx(80.0, abs=0.5)
    assert success.reason == f"request-success-rate {success.value:.2f}% < min 99%"
    assert duration.outcome == "pass"


def test_slow_canary_fails_request_duration(stack: Stack):
    stack.send("slow", "slow-canary", 16, delay_ms=150)
    success, duration = stack.checks(canary(BUILTINS, name="slow"))
    assert success.outcome == "pass"
    assert duration.outcome == "fail" and 150 <= duration.value <= 250
    assert duration.reason == f"request-duration {duration.value:.2f}ms > max 100ms"


def test_canary_without_traffic_is_insufficient_data_never_a_pass(stack: Stack):
    stack.send("idle", "idle-primary", 40)  # the primary is busy; the canary gets nothing
    verdicts = stack.checks(canary(BUILTINS, name="idle"))
    assert [v.outcome for v in verdicts] == ["no-data", "no-data"]
    assert (
        verdicts[0].reason
        == "request-success-rate: insufficient data, canary served 0 requests in 1m (needs 1)"
    )


def test_min_requests_holds_a_lightly_used_canary(stack: Stack):
    stack.send("healthy", "healthy-primary", 5)  # any traffic; the canary's own was sent by another test
    metrics = [{**BUILTINS[0], "minRequests": 100_000}]
    (verdict,) = stack.checks(canary(metrics, name="healthy"))
    assert verdict.outcome == "no-data" and "(needs 100000)" in verdict.reason


EXAMPLES = Path(__file__).resolve().parents[3] / "examples" / "metric-templates"


def example_templates(prometheus_url: str) -> dict[tuple[str, str], MetricTemplate]:
    """The example MetricTemplates, pointed at the test's Prometheus."""
    templates = {}
    for loaded in load_paths([EXAMPLES]).resources:
        template = loaded.resource
        if isinstance(template, MetricTemplate) and template.spec.provider.secret_ref is None:
            provider = template.spec.provider.model_copy(update={"address": prometheus_url})
            spec = template.spec.model_copy(update={"provider": provider})
            templates[(template.metadata.name, template.metadata.namespace)] = template.model_copy(
                update={"spec": spec}
            )
    return templates


def test_example_templates_run_on_their_prometheus_and_undefined_variables_are_named(stack: Stack):
    stack.send("custom", "custom-canary", 20, every_fifth_fails=True)
    stack.send("custom", "custom-primary", 20)
    templates = example_templates(stack.prometheus.url)
    error_rate = {
        "name": "error-rate",
        "templateRef": {"name": "sluice-error-rate"},
        "thresholdRange": {"max": 1},
    }
    latency = {
        "name": "latency",
        "templateRef": {"name": "sluice-latency-vs-primary"},
        "thresholdRange": {"max": 1e6},
    }
    unset = {**latency, "name": "latency-unset"}
    judged, compared, broken = stack.checks(
        canary(
            name="custom", metrics=[error_rate, {**latency, "templateVariables": {"quantile": "0.95"}}, unset]
        ),
        templates=lambda name, namespace: templates.get((name, namespace)),
        template_provider=provider_for_template,
    )
    assert judged.outcome == "fail" and judged.value == pytest.approx(20.0, abs=0.5)
    assert judged.reason == f"error-rate {judged.value:.2f} > max 1"
    assert compared.outcome == "pass" and compared.value > 0
    assert broken.outcome == "fail" and broken.value is None
    assert broken.reason.startswith(
        "latency-unset: MetricTemplate test/sluice-latency-vs-primary: "
        "undefined template variable 'variables.quantile'"
    )


def test_prometheus_down_is_a_provider_error_not_a_pass(stack: Stack):
    assert PrometheusProvider(stack.prometheus.url).is_online()
    down = PrometheusProvider(f"http://127.0.0.1:{free_port()}", timeout=2)
    assert not down.is_online()
    verdicts = run_checks(canary(BUILTINS, name="healthy"), builtin=down)
    assert [v.outcome for v in verdicts] == ["fail", "fail"]
    assert all("counting requests: prometheus http://127.0.0.1:" in v.reason for v in verdicts)
    assert all("unreachable: ConnectionError" in v.reason for v in verdicts)
