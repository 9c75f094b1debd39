"""Properties of weight schedules and durations over many generated inputs."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from controller.api.canary import Canary, CanaryAnalysis
from controller.api.durations import parse_duration
from controller.api.loading import parse_document, parse_resource
from tests.unit.api.documents import canary

ascending_weights = st.sets(st.integers(1, 100), min_size=1, max_size=12).map(sorted)


@given(ascending_weights, st.one_of(st.none(), st.integers(1, 100)))
def test_any_ascending_schedule_validates_and_caps_at_its_last_step(
    weights: list[int], cap: int | None
) -> None:
    document = canary(stepWeight=None, maxWeight=cap, stepWeights=weights)
    resource, problems = parse_document(document, "p.yaml", 1)
    assert problems == []
    analysis = resource.spec.get_analysis()  # type: ignore[union-attr]
    assert analysis.effective_max_weight() == (cap or weights[-1])
    assert 1 <= analysis.effective_max_weight() <= 100


@given(st.lists(st.integers(-10, 120), min_size=2, max_size=10))
def test_every_out_of_order_or_out_of_range_step_is_named(weights: list[int]) -> None:
    bad = {
        index
        for index, weight in enumerate(weights)
        if not 1 <= weight <= 100 or (index and weight <= weights[index - 1])
    }
    _, problems = parse_document(canary(stepWeight=None, stepWeights=weights), "p.yaml", 1)
    assert {problem.path for problem in problems} == {f"spec.analysis.stepWeights[{i}]" for i in bad}


duration_parts = st.tuples(st.integers(0, 500), st.sampled_from(["ms", "s", "m", "h"]))


@given(st.lists(duration_parts, min_size=1, max_size=4))
def test_durations_add_up_their_parts(parts: list[tuple[int, str]]) -> None:
    seconds = {"ms": 0.001, "s": 1, "m": 60, "h": 3600}
    text = "".join(f"{amount}{unit}" for amount, unit in parts)
    assert parse_duration(text) == pytest.approx(sum(amount * seconds[unit] for amount, unit in parts))


@pytest.mark.parametrize("text", ["", "10", "1 m", "m", "1d", "1m-", "-1s"])
def test_malformed_durations_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration(text)


def test_interval_below_one_second_runs_every_second() -> None:
    assert CanaryAnalysis(interval="200ms").interval_seconds() == 1.0


analyses = st.one_of(
    st.builds(
        lambda step, cap: {"stepWeight": step, **({"maxWeight": cap} if cap else {})},
        st.integers(1, 100),
        st.one_of(st.none(), st.integers(1, 100)),
    ),
    ascending_weights.map(lambda weights: {"stepWeights": weights}),
    st.builds(lambda n, mirror: {"iterations": n, "mirror": mirror}, st.integers(1, 50), st.booleans()),
    st.integers(1, 50).map(lambda n: {"iterations": n, "match": [{"headers": {"x-canary": {"exact": "1"}}}]}),
)


@given(analyses, st.integers(0, 10), st.sampled_from(["1s", "30s", "1m", "2h"]))
def test_valid_canaries_survive_a_round_trip_through_their_wire_form(
    shape: dict[str, object], threshold: int, interval: str
) -> None:
    document = canary(
        **{"stepWeight": None, "maxWeight": None, **shape}, threshold=threshold, interval=interval
    )
    first = parse_resource(document)
    again = parse_resource(first.wire())
    assert isinstance(first, Canary) and isinstance(again, Canary)
    assert again == first
    assert again.spec.get_analysis().effective_strategy() == first.spec.get_analysis().effective_strategy()
