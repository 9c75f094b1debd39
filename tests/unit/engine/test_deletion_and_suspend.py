"""revertOnDeletion (Terminating, Terminated) and spec.suspend."""

from __future__ import annotations

from controller.engine import FinalizeRouting, RevertTarget
from tests.unit.engine.world import (
    READY,
    WAITING,
    Row,
    drive,
    initialized,
    make_canary,
    set_canary,
    set_revision,
)

STEPS = {"stepWeight": 10, "maxWeight": 50}


def delete(world) -> None:
    world.deleting = True


def test_deleting_with_revert_gives_the_target_back_then_finalizes_routing() -> None:
    world = initialized(make_canary(STEPS, revertOnDeletion=True))
    drive(world, [
        Row("Terminating", None, "deleted with revertOnDeletion: giving podinfo its replicas back",
            then=delete),
        Row("Terminating", None, "reverting: waiting for the canary to be ready", then=set_canary(WAITING)),
        Row("Terminated", None, "terminated: podinfo is ready again", then=set_canary(READY)),
        Row("Terminated", None, "terminated"),
    ])
    assert len(world.actions_of(RevertTarget)) == 1
    assert len(world.actions_of(FinalizeRouting)) == 1


def test_deleting_mid_run_with_revert_stops_the_run() -> None:
    world = initialized(make_canary(STEPS, revertOnDeletion=True))
    drive(world, [
        Row("Progressing", then=set_revision("v2")),
        Row("Progressing", (90, 10)),
        Row("Terminating", (90, 10), then=delete),
    ])


def test_deleting_without_revert_leaves_everything_alone() -> None:
    world = initialized(make_canary(STEPS))
    drive(world, [Row("Initialized", None, "revertOnDeletion is off", then=delete)])
    assert world.decisions[-1].actions == ()


def test_a_suspended_canary_does_nothing_even_on_a_new_revision() -> None:
    world = initialized(make_canary(STEPS))
    world.set_spec(suspend=True)
    drive(world, [Row("Initialized", (100, 0), "suspended", then=set_revision("v2"))])
    assert world.decisions[-1].actions == ()
    assert world.needs[-1].hooks == () and not world.needs[-1].metrics
    world.set_spec(suspend=False)
    drive(world, [Row("Progressing", (100, 0), "new revision v2")])
