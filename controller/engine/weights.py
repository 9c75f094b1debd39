"""Canary weight arithmetic: the next step, the whole schedule, and where a weight stands in it.

Follows Flagger's nextStepWeight/maxWeight: a linear `stepWeight`, or the listed `stepWeights`
(anything past 100 capped); the last step may overshoot `maxWeight` (20, 40, 60 with max 50).
"""

from __future__ import annotations

from controller.api.canary import CanaryAnalysis


def next_weight(analysis: CanaryAnalysis, current: int) -> int:
    """The canary weight after one step up from `current` (always above it, at most 100)."""
    if analysis.step_weight > 0:
        return min(current + analysis.step_weight, 100)
    if analysis.step_weights:
        return min(next((w for w in analysis.step_weights if w > current), 100), 100)
    # Nothing to step by (validation should prevent it): one step straight to maxWeight.
    return max(analysis.effective_max_weight(), min(current + 1, 100))


def schedule(analysis: CanaryAnalysis) -> list[int]:
    """Every weight the canary strategy visits before promotion, e.g. [20, 40, 60] for step 20, max 50."""
    weights, current = [], 0
    while current < analysis.effective_max_weight():
        current = next_weight(analysis, current)
        weights.append(current)
    return weights


def step_of(analysis: CanaryAnalysis, weight: int) -> tuple[int, int]:
    """(steps taken, steps in all) for a canary at `weight`."""
    weights = schedule(analysis)
    return sum(1 for w in weights if w <= weight), len(weights)


def promotion_step_down(analysis: CanaryAnalysis, canary_weight: int) -> int:
    """Canary weight after one Promoting tick: all at once, or `stepWeightPromotion` per tick."""
    step = analysis.step_weight_promotion
    return 0 if step <= 0 else max(canary_weight - step, 0)
