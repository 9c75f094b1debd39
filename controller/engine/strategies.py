"""One step of each strategy after a passing analysis tick (Flagger's runCanary, runAB, runBlueGreen).

- canary: optional mirroring pre-stage, then weights by stepWeight/stepWeights up to maxWeight.
- ab: matching requests all go to the canary for `iterations` ticks.
- bluegreen: `iterations` ticks on the side, then all traffic switches to the canary *before* the
  primary is updated, so the primary's rolling update drops no in-flight requests.
Each ends at the confirm-promotion gate, then promotion.
"""

from __future__ import annotations

from collections.abc import Callable

from controller.api.routes import Routes
from controller.engine.gates import closed_gate
from controller.engine.outcomes import promote, roll_back
from controller.engine.tick import Tick
from controller.engine.weights import next_weight, step_of


def _promotion_confirmed(t: Tick, why: str) -> bool:
    gate = closed_gate(t, "confirm-promotion")
    if gate is None:
        return True
    if gate.expired:
        roll_back(t, gate.reason)
        return False
    if t.status.phase != "WaitingPromotion":
        t.move("promotion-not-confirmed")
        if not gate.muted:
            t.alert("warn", f"Canary {t.name} is waiting for approval to promote")
        t.event(f"Waiting for approval to promote {t.name}")
    t.say(f"{why}; {gate.reason}")
    return False


def _mirrored(t: Tick) -> Routes:
    return Routes(100, 0, mirrored=True, mirror_weight=t.analysis.mirror_weight or 100)


def step_canary(t: Tick) -> None:
    analysis, live = t.analysis, t.live
    current, top = live.canary_weight, analysis.effective_max_weight()
    if current >= top:
        why = f"canary weight {current} reached max {top}"
        if _promotion_confirmed(t, why):
            promote(t, why)
        return
    if analysis.mirror and current == 0 and not live.mirrored:
        t.set_routes(_mirrored(t))
        t.event(f"Advance {t.name}: mirroring primary traffic to the canary")
        t.say("mirroring primary traffic to the canary before shifting any weight")
        return
    if not live.mirrored:
        gate = closed_gate(t, "confirm-traffic-increase")
        if gate is not None:
            if gate.expired:
                roll_back(t, gate.reason)
            else:
                t.say(f"canary weight stays {current}; {gate.reason}")
            return
    weight = next_weight(analysis, current)
    t.set_routes(Routes(100 - weight, weight))
    t.status.step, t.status.total_steps = step_of(analysis, weight)
    t.event(f"Advance {t.name} canary weight {weight}")
    t.say(f"advance canary weight {current} -> {weight} (step {t.status.step}/{t.status.total_steps})")


def step_ab(t: Tick) -> None:
    total = t.analysis.iterations
    if t.status.iterations >= total:
        why = f"all {total} A/B iterations passed"
        if _promotion_confirmed(t, why):
            promote(t, why)
        return
    t.set_routes(Routes(0, 100, matched=True))
    t.status.iterations += 1
    t.status.step, t.status.total_steps = t.status.iterations, total
    t.event(f"Advance {t.name} canary iteration {t.status.iterations}/{total}")
    t.say(f"A/B iteration {t.status.iterations}/{total}: matching requests go to the canary")


def step_bluegreen(t: Tick) -> None:
    total, done = t.analysis.iterations, t.status.iterations
    if done > total:
        promote(t, f"all {total} iterations passed and traffic is on the canary")
        return
    if done == total:
        why = f"all {total} blue/green iterations passed"
        if _promotion_confirmed(t, why):
            t.set_routes(Routes(0, 100))
            t.status.iterations = total + 1
            t.event(f"Routing all traffic to canary {t.name}")
            t.say(f"{why}; switching all traffic to the canary before promotion")
        return
    if t.analysis.mirror and done == 0 and not t.live.mirrored:
        t.set_routes(_mirrored(t))
    t.status.iterations += 1
    t.status.step, t.status.total_steps = t.status.iterations, total
    t.event(f"Advance {t.name} canary iteration {t.status.iterations}/{total}")
    t.say(f"blue/green iteration {t.status.iterations}/{total}: traffic stays on the primary")


STRATEGIES: dict[str, Callable[[Tick], None]] = {
    "canary": step_canary,
    "ab": step_ab,
    "bluegreen": step_bluegreen,
}
