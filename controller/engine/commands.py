"""Manual commands as first-class inputs (Flagger had none: its issues #724, #1467, #413).

- promote: skip the rest of the analysis and promote (Waiting, Progressing, WaitingPromotion), or
  promote the target's revision from Failed (the way out when a failed promotion left the primary down).
- abort: roll back now (same phases).
- pause: hold at the current weight, run no checks, count no deadline (same phases); resume: go on.
- retry: start a Failed rollout again for the same revision (through the confirm-rollout gates).
A command is handled once (its id is kept in status); one that does not apply is noted and ignored.
"""

from __future__ import annotations

from controller.engine.outcomes import promote, roll_back
from controller.engine.phases import begin
from controller.engine.reasons import short_revision
from controller.engine.tick import Tick
from controller.engine.transitions import GATED


def handle_command(t: Tick) -> bool:
    """True when the command decided this tick; False to go on with the phase's own work."""
    command = t.observations.command
    if command is None or command.id == t.before.last_command:
        return False
    t.status.last_command = command.id
    phase, by = t.status.phase, f" by {command.by}" if command.by else " by a user"
    if command.kind == "pause" and phase in GATED and not t.status.paused:
        t.status.paused = True
        t.event(f"Paused {t.name}{by} at canary weight {t.live.canary_weight}")
        t.say(f"paused{by} at canary weight {t.live.canary_weight}; no checks until resumed")
        return True
    if command.kind == "resume" and t.status.paused:
        t.status.paused = False
        t.event(f"Resumed {t.name}{by}")
        t.note(f"resumed{by}")
        return False
    if command.kind == "abort" and phase in GATED:
        roll_back(t, f"aborted{by}")
        return True
    if command.kind == "promote" and (phase in GATED or phase == "Failed"):
        promote(t, f"promoted{by}, skipping the rest of the analysis")
        return True
    if command.kind == "retry" and phase == "Failed":
        begin(t, f"retry{by} of revision {short_revision(t.observations.revision.spec_hash)}")
        return True
    t.note(f"ignored {command.kind}: not applicable in phase {phase or 'new'}"
           + (" (paused)" if t.status.paused else ""))
    return False
