"""Properties over random configurations and random worlds (hypothesis, modest example counts).

- Weights always sum to 100 and stay in 0..100, and no sequence of inputs crashes the engine.
- While Progressing, the canary weight never goes down except by a rollback or a new revision.
- With fixed observations (all pass, or all fail) every rollout ends in Succeeded or Failed, soon.
"""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from controller.engine import ManualCommand
from tests.unit.engine.world import (
    BROKEN,
    FEW_REQUESTS,
    LOW_SUCCESS,
    PASS,
    READY,
    WAITING,
    World,
    hook,
    initialized,
    make_canary,
    set_revision,
)

GATES = [hook("go", "confirm-rollout", gateTimeout="5m"), hook("more", "confirm-traffic-increase"),
         hook("approve", "confirm-promotion", gateTimeout="10m"), hook("stop", "rollback"),
         hook("check", "pre-rollout"), hook("load", "rollout")]


@st.composite
def analyses(draw: st.DrawFn) -> dict[str, Any]:
    kind = draw(st.sampled_from(["step", "steps", "ab", "bluegreen"]))
    common: dict[str, Any] = {
        "threshold": draw(st.integers(1, 4)),
        "stepWeightPromotion": draw(st.sampled_from([0, 0, 30, 50])),
    }
    if kind == "step":
        return {**common, "stepWeight": draw(st.integers(5, 60)), "maxWeight": draw(st.integers(10, 100)),
                "mirror": draw(st.booleans())}
    if kind == "steps":
        weights = sorted(draw(st.sets(st.integers(1, 100), min_size=1, max_size=5)))
        return {**common, "stepWeights": weights}
    iterations = {"iterations": draw(st.integers(1, 4))}
    if kind == "ab":
        return {**common, **iterations, "match": [{"headers": {"x-canary": {"exact": "insider"}}}]}
    return {**common, **iterations, "mirror": draw(st.booleans())}


def _mostly(usual: Any, *rare: Any, odds: int = 6) -> st.SearchStrategy[Any]:
    """`usual` most of the time, so random runs get far enough to meet the rare events."""
    return st.sampled_from([usual] * odds + list(rare))


tick_inputs = st.fixed_dictionaries({
    "metrics": _mostly((PASS,), (LOW_SUCCESS,), (FEW_REQUESTS,), ()),
    "canary": _mostly(READY, WAITING, BROKEN, odds=12),
    "primary": _mostly(READY, WAITING, BROKEN, odds=16),
    "gates": _mostly(True, "closed", odds=4),
    "hooks": _mostly(True, "500", odds=12),
    "stop": _mostly("no", True, odds=30),
    "revision": _mostly(None, "v2", "v3", "v1", odds=30),
    "command": _mostly(None, "promote", "abort", "pause", "resume", "retry", odds=30),
})


def _apply(world: World, number: int, inputs: dict[str, Any]) -> None:
    world.metrics = inputs["metrics"]
    world.canary_side, world.primary = inputs["canary"], inputs["primary"]
    world.hook_answers.update({n: inputs["gates"] for n in ("go", "more", "approve")})
    world.hook_answers.update({n: inputs["hooks"] for n in ("check", "load")})
    world.hook_answers["stop"] = inputs["stop"]
    if inputs["revision"]:
        set_revision(inputs["revision"])(world)
    if inputs["command"]:
        world.command = ManualCommand(inputs["command"], f"c{number}")


@settings(max_examples=60, deadline=None)
@given(analysis=analyses(), script=st.lists(tick_inputs, min_size=8, max_size=40))
def test_weights_stay_valid_and_progress_never_goes_backwards(analysis: dict[str, Any],
                                                                 script: list[dict[str, Any]]) -> None:
    world = initialized(make_canary({**analysis, "webhooks": GATES}))
    set_revision("v2")(world)
    for number, inputs in enumerate(script):
        before_phase, before_weight = world.phase, world.routes.canary_weight
        before_revision = world.status.last_applied_spec
        _apply(world, number, inputs)
        decision = world.tick()
        status = decision.status
        assert 0 <= status.canary_weight <= 100
        assert sum(world.weights) == 100 and all(0 <= w <= 100 for w in world.weights)
        assert decision.reason
        restarted = status.last_applied_spec != before_revision
        if before_phase == status.phase == "Progressing" and not restarted:
            assert world.routes.canary_weight >= before_weight, decision.reason


FIXED = {
    "all pass": dict(metrics=(PASS,), gates=True, canary=READY, stop="no", outcome="Succeeded"),
    "metrics fail": dict(metrics=(LOW_SUCCESS,), gates=True, canary=READY, stop="no", outcome="Failed"),
    "hooks fail": dict(metrics=(PASS,), gates="down", canary=READY, stop="no", outcome="Failed"),
    "starved": dict(metrics=(FEW_REQUESTS,), gates=True, canary=READY, stop="no", outcome="Failed"),
    "never ready": dict(metrics=(PASS,), gates=True, canary=WAITING, stop="no", outcome="Failed"),
}


@settings(max_examples=40, deadline=None)
@given(analysis=analyses(), case=st.sampled_from(sorted(FIXED)))
def test_fixed_observations_end_in_succeeded_or_failed_within_bounded_ticks(analysis: dict[str, Any],
                                                                             case: str) -> None:
    fixed = FIXED[case]
    timed_gates = [hook("go", "confirm-rollout", gateTimeout="3m"),
                   hook("approve", "confirm-promotion", gateTimeout="3m"), hook("load", "rollout")]
    world = initialized(make_canary({**analysis, "webhooks": timed_gates}, progressDeadlineSeconds=300))
    world.metrics = fixed["metrics"]
    world.canary_side = fixed["canary"]
    world.hook_answers = {"go": fixed["gates"], "approve": fixed["gates"], "load": fixed["gates"]}
    if fixed["gates"] is not True:
        world.hook_answers.update(go=True, approve=True)
    set_revision("v2")(world)
    world.ticks_until(lambda w: w.phase in ("Succeeded", "Failed"), limit=130)
    assert world.phase == fixed["outcome"], world.decisions[-1].reason
