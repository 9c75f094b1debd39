"""DaemonSet targets: no replica count, so "scaled to zero" is a node selector that nothing matches.

Flagger's way: the target gets `nodeSelector: {sluice.dev/scale-to-zero: "true"}` while it is not the
canary. That key is left out of the revision hash and of the primary's copy, so scaling is never a new
revision and the primary always runs on every node.
"""

from __future__ import annotations

import copy
from typing import Any

from controller.platforms.kubernetes.readiness import rollout_readiness
from controller.ports.platform import Readiness

SCALE_TO_ZERO = "sluice.dev/scale-to-zero"


class DaemonSetKind:
    kind = "DaemonSet"
    plural = "daemonsets"

    def replicas(self, obj: dict[str, Any]) -> int:
        selector = obj["spec"]["template"]["spec"].get("nodeSelector") or {}
        return 0 if selector.get(SCALE_TO_ZERO) == "true" else 1

    def hashable_template(self, obj: dict[str, Any]) -> dict[str, Any]:
        template = copy.deepcopy(obj["spec"]["template"])
        selector = template["spec"].get("nodeSelector")
        if selector is not None:
            selector.pop(SCALE_TO_ZERO, None)
            if not selector:
                del template["spec"]["nodeSelector"]
        return template

    def readiness(self, obj: dict[str, Any], threshold: int | None, deadline_seconds: int) -> Readiness:
        if self.replicas(obj) == 0:
            return Readiness("waiting", f"{obj['metadata']['name']} is scaled to zero")
        status = obj.get("status") or {}
        desired = status.get("desiredNumberScheduled", 0)
        if desired == 0:
            return Readiness("waiting", f"{obj['metadata']['name']} has no pods scheduled yet")
        return rollout_readiness(
            obj,
            desired=desired,
            updated=status.get("updatedNumberScheduled", 0),
            available=status.get("numberAvailable", 0),
            old=0,
            threshold_percent=threshold,
            deadline_seconds=deadline_seconds,
        )

    def scale_patch(self, replicas: int) -> dict[str, Any]:
        value = "true" if replicas == 0 else None
        return {"spec": {"template": {"spec": {"nodeSelector": {SCALE_TO_ZERO: value}}}}}

    def primary_spec(self, target: dict[str, Any], replicas: int) -> dict[str, Any]:
        keep = ("updateStrategy", "minReadySeconds", "revisionHistoryLimit")
        return {key: target["spec"][key] for key in keep if key in target["spec"]}
