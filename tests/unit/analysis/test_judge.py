"""The judge's statistics and scoring: textbook Mann-Whitney values, ties, tiny samples, and properties
(symmetry, identical samples never fail, a large shift in the bad direction always fails)."""

from __future__ import annotations

import itertools
import math
import statistics

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analysis.judge import (
    MetricJudgement,
    MetricSpec,
    average_ranks,
    classify,
    mann_whitney_u,
    relative_change,
    score,
)

LATENCY = MetricSpec("request-duration", "increase", 0.1, unit="ms")
SUCCESS = MetricSpec("request-success-rate", "decrease", 0.01, unit="%")

samples = st.lists(st.integers(-50, 50).map(float), min_size=1, max_size=25)
big_samples = st.lists(st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False), min_size=10, max_size=60)


def test_textbook_example_without_ties():
    # scipy.stats.mannwhitneyu docs (males vs females): U1 = 17, asymptotic p = 0.11134688653314041.
    test = mann_whitney_u([19, 22, 16, 29, 24], [20, 11, 17, 12])
    assert test.u == 17
    assert test.p == pytest.approx(0.11134688653314041, rel=1e-9)
    assert test.x_higher and not test.x_lower


def test_ties_share_average_ranks_and_shrink_the_variance():
    x, y = [1.0, 2.0, 2.0, 3.0], [2.0, 3.0, 4.0, 4.0]
    assert average_ranks([*x, *y]) == [1, 3, 3, 5.5, 3, 5.5, 7.5, 7.5]
    test = mann_whitney_u(x, y)
    assert test.u == 2.5  # pairs x > y, ties counting half
    # variance 16/12 * (9 - (24 + 6 + 6) / 56); z = (|2.5 - 8| - 0.5) / sd. R: wilcox.test(...) p = 0.1342
    sd = math.sqrt(16 / 12 * (9 - 36 / 56))
    assert test.z == pytest.approx(5 / sd)
    assert test.p == pytest.approx(0.13416, abs=1e-4)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, 3).map(float), min_size=2, max_size=9), st.data())
def test_tie_corrected_variance_is_the_exact_permutation_variance(pooled, data):
    """Over every way to split the pooled values into x and y, U's mean is n_x n_y / 2 and its variance is
    what the tie-corrected formula says (z * sd recovers |U - mean| - 1/2)."""
    n_x = data.draw(st.integers(1, len(pooled) - 1))
    us = []
    for chosen in itertools.combinations(range(len(pooled)), n_x):
        x = [pooled[i] for i in chosen]
        y = [pooled[i] for i in range(len(pooled)) if i not in chosen]
        us.append(mann_whitney_u(x, y).u)
    n_y = len(pooled) - n_x
    assert statistics.fmean(us) == pytest.approx(n_x * n_y / 2)
    variance = statistics.pvariance(us)
    test = mann_whitney_u(pooled[:n_x], pooled[n_x:])
    if variance == 0:
        assert test.p == 1.0
    else:
        expected_z = max(abs(test.u - n_x * n_y / 2) - 0.5, 0) / math.sqrt(variance)
        assert test.z == pytest.approx(expected_z)


def test_tiny_samples():
    one = mann_whitney_u([1.0], [2.0])
    assert (one.u, one.p) == (0.0, 1.0)  # one pair is never evidence
    assert mann_whitney_u([5.0, 5.0], [5.0]).p == 1.0  # all tied
    with pytest.raises(ValueError):
        mann_whitney_u([], [1.0])
    judged = classify(LATENCY, [900.0] * 3, [1.0] * 60, min_samples=10)
    assert judged.classification == "nodata"
    assert judged.describe() == "request-duration has 3 canary and 60 primary samples (needs 10 each)"
    # NaN and infinities are no samples: a step without traffic says nothing
    assert classify(LATENCY, [math.nan] * 20, [1.0] * 20).classification == "nodata"


@settings(max_examples=200, deadline=None)
@given(samples, samples)
def test_symmetry(x, y):
    forward, backward = mann_whitney_u(x, y), mann_whitney_u(y, x)
    assert forward.u + backward.u == pytest.approx(len(x) * len(y))
    assert forward.p == pytest.approx(backward.p)
    assert 0 <= forward.u <= len(x) * len(y) and 0 < forward.p <= 1
    assert forward.x_higher == backward.x_lower


@settings(max_examples=200, deadline=None)
@given(big_samples, st.sampled_from(["increase", "decrease", "either"]), st.randoms(use_true_random=False))
def test_identical_distributions_never_fail(primary, direction, random):
    canary = list(primary)
    random.shuffle(canary)
    spec = MetricSpec("m", direction, tolerance=0.0)  # no tolerance: only the test protects
    assert classify(spec, canary, primary).classification == "pass"


@settings(max_examples=200, deadline=None)
@given(big_samples, st.integers(10, 60))
def test_a_large_shift_in_the_bad_direction_always_fails(primary, n):
    spread = max(primary) - min(primary)
    shift = spread + abs(statistics.fmean(primary)) + 1.0  # beyond every primary value and >= 100% change
    canary = [primary[i % len(primary)] + shift for i in range(n)]
    assert classify(MetricSpec("m", "increase"), canary, primary).classification == "high"
    assert classify(MetricSpec("m", "either"), canary, primary).classification == "high"
    assert classify(MetricSpec("m", "decrease"), canary, primary).classification == "pass"  # an improvement
    lowered = [v - 2 * shift for v in canary]
    assert classify(MetricSpec("m", "decrease"), lowered, primary).classification == "low"


def test_tolerance_passes_a_significant_but_small_change():
    primary = [40.0 + (i % 5) for i in range(60)]
    slower = [v * 1.05 + 0.5 for v in primary]  # every canary value higher: p tiny, but +6%
    judged = classify(LATENCY, slower, primary)
    assert judged.test is not None and judged.test.p < 0.001
    assert judged.classification == "pass"
    assert classify(MetricSpec("request-duration", "increase", 0.05), slower, primary).bad


def test_relative_change():
    assert relative_change(84, 42) == 1.0
    assert relative_change(-2, -4) == 0.5
    assert relative_change(0, 0) == 0.0
    assert relative_change(3, 0) == math.inf


def _judged(spec: MetricSpec, classification: str) -> MetricJudgement:
    test = mann_whitney_u([2.0] * 3, [1.0] * 3)
    return MetricJudgement(spec, classification, 60, 60, 84.0, 41.0, test, relative_change(84.0, 41.0))  # type: ignore[arg-type]


def test_score_is_the_weighted_share_of_passing_metrics():
    heavy = MetricSpec("request-success-rate", "decrease", weight=3)
    light = MetricSpec("request-duration", "increase", unit="ms")
    result = score([_judged(heavy, "pass"), _judged(light, "high")], pass_score=90, marginal_score=70)
    assert (result.outcome, result.score) == ("no-data", 75.0)  # marginal: judge again later
    assert result.reason.startswith("judge 75/100 < pass 90, marginal (>= 70), waiting for more samples: ")
    failed = score([_judged(heavy, "high"), _judged(light, "pass")], pass_score=90, marginal_score=70)
    assert (failed.outcome, failed.score) == ("fail", 25.0)
    assert failed.reason == (
        "judge 25/100 < marginal 70: request-success-rate canary mean 84 vs primary 41 (U=9, p=0.047, +105%)"
    )
    passed = score([_judged(heavy, "pass"), _judged(light, "pass")])
    assert (passed.outcome, passed.score, passed.reason) == ("pass", 100.0, "judge 100/100 >= pass 90")


def test_score_boundaries_are_inclusive():
    metrics = [_judged(MetricSpec(f"m{i}"), "pass" if i < 3 else "high") for i in range(4)]
    assert score(metrics, pass_score=75, marginal_score=50).outcome == "pass"
    assert score(metrics, pass_score=80, marginal_score=75).outcome == "no-data"
    assert score(metrics, pass_score=80, marginal_score=76).outcome == "fail"


def test_a_bad_critical_metric_fails_the_whole_judgement():
    critical = MetricSpec("request-success-rate", "decrease", critical=True, unit="%")
    others = [_judged(MetricSpec(f"m{i}"), "pass") for i in range(9)]
    result = score([*others, _judged(critical, "low")], pass_score=50, marginal_score=10)
    assert (result.outcome, result.score) == ("fail", 0.0)
    assert result.reason.startswith(
        "judge 0/100, critical metric failed: request-success-rate canary mean 84%"
    )


def test_missing_data_never_passes_or_fails():
    spec = MetricSpec("request-duration", "increase")
    nodata = MetricJudgement(spec, "nodata", 2, 60)
    half = score([nodata, _judged(MetricSpec("other"), "high")])
    assert (half.outcome, half.score) == ("no-data", None)
    assert (
        half.reason
        == "judge: insufficient data, request-duration has 2 canary and 60 primary samples (needs 10 each)"
    )
    critical = MetricJudgement(MetricSpec("crit", critical=True), "nodata", 0, 0)
    assert score([critical, *[_judged(MetricSpec(f"m{i}"), "pass") for i in range(5)]]).outcome == "no-data"
    assert score([]).outcome == "no-data"
    # a minority without data is left out of the score and named
    some = score([nodata, *[_judged(MetricSpec(f"m{i}"), "pass") for i in range(2)]])
    assert (some.outcome, some.score) == ("pass", 100.0)
    assert some.reason == "judge 100/100 >= pass 90 (1 without data: request-duration)"


def test_reason_names_medians_test_and_change():
    primary = [41.0 + (i % 3) for i in range(60)]
    canary = [84.0 + (i % 3) for i in range(60)]
    judged = classify(LATENCY, canary, primary)
    assert judged.classification == "high"
    assert judged.describe() == "request-duration canary mean 85ms vs primary 42ms (U=3600, p<0.001, +102%)"
    assert classify(SUCCESS, [100.0] * 20, [100.0] * 20).describe() == (
        "request-success-rate canary mean 100% vs primary 100% (all equal, +0%)"
    )
