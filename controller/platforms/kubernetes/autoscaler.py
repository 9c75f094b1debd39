"""HPA `autoscalerRef`: the primary gets its own `<hpa>-primary` scaling `<target>-primary`.

The user's HPA keeps scaling the target (the canary); the clone is the same spec aimed at the primary,
with `primaryScalerReplicas` overriding min/max. Reconciled on every initialize, so a change to the
user's HPA reaches the clone. KEDA ScaledObjects are not handled yet (an error says so).
"""

from __future__ import annotations

import copy
from typing import Any

from controller.api.canary import Canary
from controller.platforms.kubernetes.client import KubeClient, resource_path

HPA_API = "autoscaling/v2"


class AutoscalerError(Exception):
    pass


class Autoscalers:
    def __init__(self, kube: KubeClient) -> None:
        self.kube = kube

    def min_replicas(self, canary: Canary) -> int | None:
        hpa = self._user_hpa(canary)
        return int(hpa["spec"].get("minReplicas", 1)) if hpa else None

    def reconcile(self, canary: Canary, primary_name: str, owner: list[dict[str, Any]]) -> None:
        hpa = self._user_hpa(canary)
        if hpa is None:
            return
        ref = canary.spec.autoscaler_ref
        assert ref is not None
        spec = copy.deepcopy(hpa["spec"])
        spec["scaleTargetRef"] = {**spec["scaleTargetRef"], "name": primary_name}
        overrides = ref.primary_scaler_replicas
        if overrides is not None and overrides.min_replicas is not None:
            spec["minReplicas"] = overrides.min_replicas
        if overrides is not None and overrides.max_replicas is not None:
            spec["maxReplicas"] = overrides.max_replicas
        ns, name = canary.metadata.namespace, f"{ref.name}-primary"
        path = resource_path(HPA_API, "horizontalpodautoscalers", ns)
        current = self.kube.get_or_none(f"{path}/{name}")
        body = {
            "apiVersion": HPA_API,
            "kind": "HorizontalPodAutoscaler",
            "metadata": {"name": name, "namespace": ns, "labels": hpa["metadata"].get("labels") or {},
                         "ownerReferences": owner},
            "spec": spec,
        }
        if current is None:
            self.kube.create(path, body)
        elif current["spec"] != spec:
            body["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"]
            self.kube.replace(f"{path}/{name}", body)

    def _user_hpa(self, canary: Canary) -> dict[str, Any] | None:
        ref = canary.spec.autoscaler_ref
        if ref is None:
            return None
        if ref.kind != "HorizontalPodAutoscaler":
            raise AutoscalerError(f"spec.autoscalerRef: {ref.kind} is not supported on Kubernetes yet")
        path = resource_path(HPA_API, "horizontalpodautoscalers", canary.metadata.namespace, ref.name)
        hpa = self.kube.get_or_none(path)
        if hpa is None:
            raise AutoscalerError(f"spec.autoscalerRef: HorizontalPodAutoscaler {ref.name} not found")
        return hpa
