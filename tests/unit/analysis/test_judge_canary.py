"""A Canary's `analysis.judge`: the manifest rules, the queries for each side, and the "judge" verdict
the runtime's check_runner adds to the metric verdicts."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest

from analysis.judge import judge_canary, judge_problems, judge_queries
from analysis.providers.base import MultipleValues, ProviderError
from controller.api.canary import Canary
from controller.api.loading import load_file, load_text
from controller.runtime.adapters import check_runner
from tests.unit.analysis.canaries import canary
from tests.unit.analysis.fake_provider import FakeProvider

ROOT = Path(__file__).resolve().parents[3]
GUARD = [{"name": "request-success-rate", "thresholdRange": {"min": 90}}]
JUDGE = {
    "passScore": 90,
    "marginalScore": 75,
    "metrics": [{"name": "request-success-rate"}, {"name": "request-duration"}],
}


def judged_canary(judge: dict[str, Any] | None = None, provider: str | None = None) -> Canary:
    analysis = {"interval": "1m", "threshold": 5, "stepWeight": 10, "metrics": GUARD, "judge": judge or JUDGE}
    return canary(GUARD, provider=provider, analysis=analysis)


class FakeSampler:
    """Samples by which side a query names; `answers[side]` is a list, or an exception to raise."""

    def __init__(self, answers: dict[str, Any], dialect: str = "proxy-window") -> None:
        self.answers = answers
        self.dialect = dialect
        self.asked: list[tuple[str, int, int]] = []

    def samples(self, text: str, seconds: int, step: int) -> list[float]:
        self.asked.append((text, seconds, step))
        for key, answer in self.answers.items():
            if key in text:
                if isinstance(answer, Exception):
                    raise answer
                return answer(text) if callable(answer) else answer
        return []

    def query(self, text: str) -> float:
        return 100.0 if "success" in text else 5.0

    def is_online(self) -> bool:
        return True


def _noisy(centre: float, n: int = 60, seed: int = 7) -> list[float]:
    rng = random.Random(seed)
    return [centre * (1 + rng.uniform(-0.05, 0.05)) for _ in range(n)]


def _by_side(canary_latency: float, primary_latency: float) -> dict[str, Any]:
    def answer(text: str) -> list[float]:
        latency = canary_latency if "-canary" in text else primary_latency
        return [100.0] * 60 if text.startswith("request-success-rate") else _noisy(latency, seed=len(text))

    return {"podinfo-": answer}


def problems(analysis_extra: str) -> list[str]:
    text = f"""
apiVersion: sluice.dev/v1beta1
kind: Canary
metadata: {{name: podinfo, namespace: test}}
spec:
  targetRef: {{apiVersion: apps/v1, kind: Deployment, name: podinfo}}
  service: {{port: 9898}}
  analysis:
    interval: 1m
    threshold: 2
    stepWeight: 10
{analysis_extra}"""
    return [str(p) for p in load_text(text).problems]


def test_manifest_rules_name_the_field():
    assert problems(
        """    metrics: [{name: request-success-rate}]
    judge:
      passScore: 120
      alpha: 0
      minSamples: 1
      metrics:
        - {name: error-budget}
        - {name: request-duration, tolerance: -0.5, weight: 0, direction: up}
        - {name: request-duration, builtin: request-duration, query: up}
"""
    ) == [
        "<input>#1: spec.analysis.judge.passScore: must be in [0, 100] (got 120)",
        "<input>#1: spec.analysis.judge.alpha: must be in (0, 0.5] (got 0)",
        "<input>#1: spec.analysis.judge.minSamples: must be at least 2 (got 1)",
        "<input>#1: spec.analysis.judge.metrics[0].query: required: 'error-budget' is not a builtin "
        "(request-success-rate, request-duration); set builtin or query",
        "<input>#1: spec.analysis.judge.metrics[1].direction: must be one of increase, decrease or either "
        "(got 'up')",
        "<input>#1: spec.analysis.judge.metrics[1].tolerance: must be at least 0 (got -0.5)",
        "<input>#1: spec.analysis.judge.metrics[1].weight: must be greater than 0 (got 0)",
        "<input>#1: spec.analysis.judge.metrics[2].query: set builtin or query, not both",
    ]
    assert problems(
        """    metrics: [{name: request-success-rate}]
    judge:
      passScore: 70
      marginalScore: 80
      interval: 1m
      step: 40s
      metrics: [{name: request-duration}, {name: request-duration}]
"""
    ) == [
        "<input>#1: spec.analysis.judge.metrics[1].name: 'request-duration' is already used by metrics[0]",
    ]
    assert problems(
        """    metrics: [{name: request-success-rate}]
    judge: {passScore: 70, marginalScore: 80, step: 40s, metrics: [{name: request-duration}]}
"""
    ) == [
        "<input>#1: spec.analysis.judge.marginalScore: must not exceed passScore (80 > 70)",
        "<input>#1: spec.analysis.judge.step: must be at most half of interval 1m (got 40s)",
    ]
    assert problems("    judge: {metrics: [{name: request-duration}]}\n") == [
        "<input>#1: spec.analysis.metrics: required with judge: the judge runs with the metric checks, list "
        "at least one (e.g. request-success-rate with minRequests)"
    ]


def test_example_manifest_is_valid():
    result = load_file(ROOT / "examples" / "judge.yaml")
    assert [str(p) for p in result.problems] == []
    judge = result.resources[0].resource.spec.get_analysis().judge  # type: ignore[attr-defined]
    assert judge is not None and judge.metrics


def test_builtin_queries_point_at_each_side():
    subject = judged_canary()
    judge = subject.spec.get_analysis().judge
    assert judge is not None
    success, duration = judge.metrics
    assert judge_queries(subject, judge, duration, "proxy-window") == (
        "request-duration service=podinfo backend=podinfo-canary window=1s",
        "request-duration service=podinfo backend=podinfo-primary window=1s",
    )
    canary_q, primary_q = judge_queries(subject, judge, success, "promql")
    assert 'service="podinfo", backend="podinfo-canary"' in canary_q and "[1s]" in canary_q
    assert primary_q == canary_q.replace('backend="podinfo-canary"', 'backend="podinfo-primary"')
    linkerd = judged_canary(provider="linkerd")
    canary_q, primary_q = judge_queries(linkerd, judge, duration, "promql")
    assert 'deployment=~"podinfo"' in canary_q and 'deployment=~"podinfo-primary"' in primary_q


def test_query_metrics_are_rendered_once_per_side():
    query = (
        'sum(rate(errors{deployment="{{ target }}", backend="{{ backend }}", side="{{ side }}"}'
        "[{{ interval }}]))"
    )
    subject = judged_canary(
        {"step": "30s", "interval": "10m", "metrics": [{"name": "errors", "query": query}]}
    )
    judge = subject.spec.get_analysis().judge
    assert judge is not None
    assert judge_queries(subject, judge, judge.metrics[0], "promql") == (
        'sum(rate(errors{deployment="podinfo", backend="podinfo-canary", side="canary"}[30s]))',
        'sum(rate(errors{deployment="podinfo-primary", backend="podinfo-primary", side="primary"}[30s]))',
    )
    bad = judged_canary({"metrics": [{"name": "errors", "query": "x{a='{{ variables.nope }}'}"}]})
    verdict = judge_canary(bad, FakeSampler({}))
    assert verdict is not None and verdict.outcome == "fail"
    assert verdict.reason.startswith("judge: errors: judge metric errors: undefined template variable")


def test_a_canary_twice_as_slow_fails_and_an_equal_one_passes():
    slow = judge_canary(judged_canary(), FakeSampler(_by_side(84.0, 41.0)))
    assert slow is not None
    assert (slow.metric, slow.outcome, slow.value, slow.min) == ("judge", "fail", 50.0, 90.0)
    assert slow.reason.startswith("judge 50/100 < marginal 75: request-duration canary mean 8")
    assert "p<0.001" in slow.reason and "+10" in slow.reason
    assert "request-duration: request-duration service=podinfo backend=podinfo-canary" in slow.query

    equal = judge_canary(judged_canary(), FakeSampler(_by_side(41.0, 41.0)))
    assert equal is not None and (equal.outcome, equal.value) == ("pass", 100.0)
    assert equal.reason == "judge 100/100 >= pass 90"


def test_window_and_step_reach_the_provider():
    sampler = FakeSampler(_by_side(41.0, 41.0))
    judge_canary(judged_canary({**JUDGE, "interval": "5m", "step": "10s"}), sampler)
    assert {(seconds, step) for _, seconds, step in sampler.asked} == {(300, 10)}
    assert len(sampler.asked) == 4  # two metrics, two sides


def test_idle_canary_waits_and_provider_trouble_fails():
    idle = judge_canary(judged_canary(), FakeSampler({"podinfo-primary": [100.0] * 60}))
    assert idle is not None and idle.outcome == "no-data"
    assert idle.reason.startswith(
        "judge: insufficient data, request-success-rate has 0 canary and 60 primary"
    )
    down = judge_canary(judged_canary(), FakeSampler({"podinfo-": ProviderError("proxy admin unreachable")}))
    assert down is not None and down.outcome == "fail"
    assert down.reason == "judge: request-success-rate: provider error: proxy admin unreachable"
    several = judge_canary(
        judged_canary(), FakeSampler({"podinfo-": MultipleValues("query returned 2 series")})
    )
    assert several is not None and several.reason == "judge: request-success-rate: query returned 2 series"
    cannot = judge_canary(judged_canary(), FakeProvider({}))
    assert cannot is not None and cannot.outcome == "fail"
    assert cannot.reason == "judge: the metrics provider (FakeProvider) cannot return samples"
    assert judge_canary(canary(GUARD), FakeSampler({})) is None


@pytest.mark.parametrize(("canary_latency", "outcome"), [(84.0, "fail"), (41.0, "pass")])
def test_check_runner_adds_the_judge_verdict(canary_latency, outcome):
    sampler = FakeSampler(_by_side(canary_latency, 41.0))
    verdicts = check_runner(lambda c: sampler, lambda name, namespace: None)(judged_canary())  # type: ignore[arg-type, return-value]
    assert [v.name for v in verdicts] == ["request-success-rate", "judge"]
    assert verdicts[0].outcome == "pass"
    assert verdicts[1].outcome == outcome and verdicts[1].min == 90.0
    idle = FakeSampler({})
    waiting = check_runner(lambda c: idle, lambda name, namespace: None)(judged_canary())  # type: ignore[arg-type, return-value]
    assert waiting[1].outcome == "insufficient-data"


def test_problems_are_found_before_anything_runs():
    assert judge_problems(judged_canary()) == []
    assert judge_problems(canary(GUARD)) == []
    bad = judged_canary(
        {"metrics": [{"name": "request-duration"}, {"name": "e", "query": "{{ variables.x }}"}]}
    )
    assert judge_problems(bad) == [
        "judge.metrics[1] (e): judge metric e: undefined template variable 'variables.x'; defined: backend, "
        "interval, name, namespace, service, side, target"
    ]
    assert judge_problems(judged_canary(provider="nginx"))[0].startswith(
        "judge.metrics[0] (request-success-rate): spec.provider 'nginx': sluice has no builtin"
    )
