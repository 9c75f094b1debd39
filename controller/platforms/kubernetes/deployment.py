"""Deployment targets: how a Deployment scales, reports readiness and carries replicas to its primary."""

from __future__ import annotations

from typing import Any

from controller.platforms.kubernetes.readiness import rollout_readiness
from controller.ports.platform import Readiness


class DeploymentKind:
    kind = "Deployment"
    plural = "deployments"

    def replicas(self, obj: dict[str, Any]) -> int:
        return int(obj["spec"].get("replicas", 1) or 0)

    def hashable_template(self, obj: dict[str, Any]) -> dict[str, Any]:
        return obj["spec"]["template"]

    def readiness(self, obj: dict[str, Any], threshold: int | None, deadline_seconds: int) -> Readiness:
        desired = self.replicas(obj)
        if desired == 0:
            return Readiness("waiting", f"{obj['metadata']['name']} is scaled to zero")
        status = obj.get("status") or {}
        updated = status.get("updatedReplicas", 0)
        return rollout_readiness(
            obj,
            desired=desired,
            updated=updated,
            available=status.get("availableReplicas", 0),
            old=max(status.get("replicas", 0) - updated, 0),
            threshold_percent=threshold,
            deadline_seconds=deadline_seconds,
        )

    def scale_patch(self, replicas: int) -> dict[str, Any]:
        return {"spec": {"replicas": replicas}}

    def primary_spec(self, target: dict[str, Any], replicas: int) -> dict[str, Any]:
        keep = ("strategy", "minReadySeconds", "progressDeadlineSeconds", "revisionHistoryLimit", "paused")
        spec = {key: target["spec"][key] for key in keep if key in target["spec"]}
        return {**spec, "replicas": replicas}
