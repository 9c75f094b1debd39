"""Confirm gates (confirm-rollout, confirm-traffic-increase, confirm-promotion) with optional timeouts.

Flagger's gates wait forever (its issues #1450, #705). A sluice webhook may carry `gateTimeout`; once a
gate has said no for that long, the rollout fails with the gate's name in the reason.
"""

from __future__ import annotations

from dataclasses import dataclass

from controller.api.canary import CanaryWebhook
from controller.api.durations import parse_duration
from controller.engine.reasons import clock, gate_wait
from controller.engine.tick import Tick


@dataclass(frozen=True)
class ClosedGate:
    reason: str
    expired: bool
    # The closed gate's webhook has muteAlert: wait without alerting.
    muted: bool = False


def _timeout_seconds(hook: CanaryWebhook) -> float | None:
    return parse_duration(hook.gate_timeout) if hook.gate_timeout else None


def closed_gate(t: Tick, kind: str) -> ClosedGate | None:
    """None when every gate of `kind` is open; else holds the tick on the first closed one."""
    refusal = t.first_failure(kind)
    if refusal is None:
        return None
    hook = next(w for w in t.webhooks(kind) if w.name == refusal.name)
    limit = _timeout_seconds(hook)
    expired = t.hold(f"gate:{kind}", limit)
    since = t.status.waiting_since or ""
    if expired:
        return ClosedGate(f'{kind} gate "{refusal.name}" still closed after {limit:g}s '
                          f"(waiting since {clock(since)})", expired=True, muted=hook.mute_alert)
    detail = f" ({refusal.message})" if refusal.message else ""
    return ClosedGate(gate_wait(refusal, since) + detail, expired=False, muted=hook.mute_alert)
