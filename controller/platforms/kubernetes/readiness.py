"""Readiness shared by Deployments and DaemonSets: caught up, updated, enough available, within deadline.

Flagger's isDeploymentReady, with the wait bounded in two ways: the workload's own
`ProgressDeadlineExceeded` condition, and an `Available=False` condition older than the canary's
`progressDeadlineSeconds`; both are `failed` (the engine rolls back). Anything else not yet there is
`waiting`, with a reason a user can act on.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

from controller.ports.platform import Readiness


def needed(desired: int, threshold_percent: int | None) -> int:
    """Available replicas needed: the ready threshold (default 100%) of desired, at least one."""
    return max(math.ceil(desired * (threshold_percent or 100) / 100), 1)


def _condition(obj: dict[str, Any], kind: str) -> dict[str, Any] | None:
    return next((c for c in obj.get("status", {}).get("conditions") or [] if c.get("type") == kind), None)


def _age_seconds(timestamp: str | None, now: datetime) -> float:
    if not timestamp:
        return 0.0
    return (now - datetime.fromisoformat(timestamp.replace("Z", "+00:00"))).total_seconds()


def rollout_readiness(
    obj: dict[str, Any],
    desired: int,
    updated: int,
    available: int,
    old: int,
    threshold_percent: int | None,
    deadline_seconds: int,
    now: datetime | None = None,
) -> Readiness:
    name = obj["metadata"]["name"]
    now = now or datetime.now(UTC)
    status = obj.get("status") or {}
    if status.get("observedGeneration", 0) < obj["metadata"].get("generation", 0):
        return Readiness("waiting", f"waiting for {name} rollout to be observed")
    progressing = _condition(obj, "Progressing")
    if progressing and progressing.get("reason") == "ProgressDeadlineExceeded":
        return Readiness("failed", f"{name} exceeded its progress deadline: {progressing.get('message', '')}")
    progress = f"{available} of {desired} replicas available"
    if updated < desired:
        return Readiness("waiting", f"waiting for {name} rollout: {updated} of {desired} replicas updated")
    if old > 0:
        return Readiness("waiting", f"waiting for {name} rollout: {old} old replicas pending termination")
    need = needed(desired, threshold_percent)
    if available >= need:
        return Readiness("ready")
    unavailable = _condition(obj, "Available")
    if unavailable and unavailable.get("status") == "False":
        age = _age_seconds(unavailable.get("lastTransitionTime"), now)
        if age > deadline_seconds:
            return Readiness("failed", f"{name} unavailable for {age:.0f}s (progressDeadlineSeconds "
                                       f"{deadline_seconds}): {progress}")
    return Readiness("waiting", f"waiting for {name} rollout: {progress} (need {need})")
