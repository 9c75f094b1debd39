"""The Kubernetes Platform: a Deployment or DaemonSet target, its `-primary` copy, Services and HPA.

Flagger's bootstrap (reference/flagger.md §2.4): `<target>-primary` is a copy of the target whose
selector label value gets `-primary` (in the selector, the pod labels, and anti-affinity or topology
spread selectors that pointed at the target), whose tracked ConfigMaps/Secrets are `-primary` copies, and
which the Canary owns (garbage-collected with it unless revertOnDeletion hands the target back). Unlike
Flagger's random `flagger-id`, the primary's pod template carries the promoted revision as an annotation,
so a config-only promotion still rolls the primary's pods, deterministically.

Every method is idempotent and reads the live objects, so a controller restart in the middle of any of
them just does the rest on the next tick.
"""

from __future__ import annotations

import copy
from typing import Any, Protocol

from controller.api.canary import Canary
from controller.platforms.kubernetes.autoscaler import Autoscalers
from controller.platforms.kubernetes.client import KubeClient, resource_path
from controller.platforms.kubernetes.configs import ConfigTracker
from controller.platforms.kubernetes.daemonset import DaemonSetKind
from controller.platforms.kubernetes.deployment import DeploymentKind
from controller.platforms.kubernetes.revision import sha256_of
from controller.platforms.kubernetes.services import Services
from controller.ports.platform import Readiness, Revision

SELECTOR_LABELS = ("app", "name", "app.kubernetes.io/name")
REVISION_ANNOTATION = "sluice.dev/revision"
# Never copied to the primary: GitOps ownership marks and what kubectl/the deployment controller set.
DROPPED_PREFIXES = (
    "toolkit.fluxcd.io",
    "kustomize.toolkit.fluxcd.io",
    "kubectl.kubernetes.io/last-applied-configuration",
    "deployment.kubernetes.io/",
)


class TargetError(Exception):
    """The targetRef names nothing sluice can run a rollout on, with the reason."""


class TargetNotReady(Exception):
    """revertOnDeletion waits for the target before handing it the apex; the next tick tries again."""


class WorkloadKind(Protocol):
    kind: str
    plural: str

    def replicas(self, obj: dict[str, Any]) -> int: ...

    def hashable_template(self, obj: dict[str, Any]) -> dict[str, Any]: ...

    def readiness(self, obj: dict[str, Any], threshold: int | None, deadline_seconds: int) -> Readiness: ...

    def scale_patch(self, replicas: int) -> dict[str, Any]: ...

    def primary_spec(self, target: dict[str, Any], replicas: int) -> dict[str, Any]: ...


KINDS: dict[str, WorkloadKind] = {"Deployment": DeploymentKind(), "DaemonSet": DaemonSetKind()}


def owner_reference(canary: Canary) -> list[dict[str, Any]]:
    uid = (canary.metadata.model_extra or {}).get("uid")
    if not uid:
        return []
    return [
        {
            "apiVersion": canary.api_version,
            "kind": "Canary",
            "name": canary.metadata.name,
            "uid": uid,
            "controller": True,
            "blockOwnerDeletion": True,
        }
    ]


def _rewrite_selectors(node: Any, label: str, value: str) -> None:
    """Label selectors (anti-affinity, topology spread) that select the target now select the primary."""
    if isinstance(node, dict):
        match = node.get("matchLabels")
        if isinstance(match, dict) and match.get(label) == value:
            match[label] = f"{value}-primary"
        for child in node.values():
            _rewrite_selectors(child, label, value)
    elif isinstance(node, list):
        for child in node:
            _rewrite_selectors(child, label, value)


class KubernetesPlatform:
    """Implements controller.ports.platform.Platform for Deployment and DaemonSet targets."""

    def __init__(
        self,
        kube: KubeClient,
        selector_labels: tuple[str, ...] = SELECTOR_LABELS,
        include_label_prefixes: tuple[str, ...] = ("*",),
        config_tracking: bool = True,
        default_provider: str = "smi:v1alpha4",
    ) -> None:
        self.kube = kube
        self.selector_labels = selector_labels
        self.include_label_prefixes = include_label_prefixes
        self.configs = ConfigTracker(kube, enabled=config_tracking)
        self.services = Services(kube, default_provider)
        self.autoscalers = Autoscalers(kube)

    # -- the Platform port -------------------------------------------------------------------------------

    def initialize(self, canary: Canary) -> None:
        kind, target = self._target(canary)
        label, value = self._selector(canary, target)
        owner = owner_reference(canary)
        if self._primary(canary, kind) is None:
            replicas = kind.replicas(target) or self.autoscalers.min_replicas(canary) or 1
            self._write_primary(canary, kind, target, replicas)
        self.services.reconcile_sides(canary, label, value, target["spec"]["template"], owner)
        self.autoscalers.reconcile(canary, self._primary_name(canary), owner)
        if self.primary_readiness(canary).ready:
            self.services.reconcile_apex(canary, label, value, target["spec"]["template"], owner)

    def revision(self, canary: Canary) -> Revision:
        kind, target = self._target(canary)
        template = kind.hashable_template(target)
        return Revision(
            spec_hash=sha256_of(template),
            tracked_configs=self.configs.checksums(canary.metadata.namespace, template["spec"]),
        )

    def primary_readiness(self, canary: Canary) -> Readiness:
        kind = self._kind(canary)
        primary = self._primary(canary, kind)
        if primary is None:
            return Readiness("waiting", f"{self._primary_name(canary)} is not created yet")
        if kind.replicas(primary) == 0:
            return Readiness("failed", f"{self._primary_name(canary)} has 0 replicas")
        analysis = canary.spec.get_analysis()
        return kind.readiness(
            primary, analysis.primary_ready_threshold, canary.spec.progress_deadline_seconds
        )

    def canary_readiness(self, canary: Canary) -> Readiness:
        kind, target = self._target(canary)
        analysis = canary.spec.get_analysis()
        return kind.readiness(target, analysis.canary_ready_threshold, canary.spec.progress_deadline_seconds)

    def scale_to_zero(self, canary: Canary) -> None:
        """Only after the apex selects the primary: adopting a user's apex never leaves it without pods."""
        kind, target = self._target(canary)
        label, value = self._selector(canary, target)
        self.services.reconcile_apex(
            canary, label, value, target["spec"]["template"], owner_reference(canary)
        )
        if kind.replicas(target) != 0:
            self._scale(canary, kind, 0)

    def scale_from_zero(self, canary: Canary) -> None:
        kind, target = self._target(canary)
        if kind.replicas(target) == 0:
            self._scale(canary, kind, self._canary_replicas(canary, kind))

    def promote(self, canary: Canary) -> None:
        kind, target = self._target(canary)
        primary = self._primary(canary, kind)
        if canary.spec.autoscaler_ref is not None and primary is not None:
            replicas = kind.replicas(primary)
        else:
            replicas = kind.replicas(target) or (kind.replicas(primary) if primary else 0) or 1
        self._write_primary(canary, kind, target, replicas)
        self.autoscalers.reconcile(canary, self._primary_name(canary), owner_reference(canary))

    def revert(self, canary: Canary) -> None:
        """revertOnDeletion: the target gets the primary's replicas back, then the apex once it is ready."""
        kind, target = self._target(canary)
        label, value = self._selector(canary, target)
        if kind.replicas(target) == 0:
            self._scale(canary, kind, self._canary_replicas(canary, kind))
            target = self.kube.get(self._target_path(canary, kind))
        readiness = kind.readiness(target, None, canary.spec.progress_deadline_seconds)
        if not readiness.ready:
            raise TargetNotReady(f"revert of {canary.metadata.name}: {readiness.reason}")
        self.services.point_apex_at(canary, {label: value})

    # -- helpers -----------------------------------------------------------------------------------------

    def _kind(self, canary: Canary) -> WorkloadKind:
        ref = canary.spec.target_ref
        kind = KINDS.get(ref.kind or "")
        if kind is None:
            raise TargetError(
                f"spec.targetRef.kind: {ref.kind} is not supported on Kubernetes (one of {', '.join(KINDS)})"
            )
        return kind

    def _target(self, canary: Canary) -> tuple[WorkloadKind, dict[str, Any]]:
        kind = self._kind(canary)
        target = self.kube.get_or_none(self._target_path(canary, kind))
        if target is None:
            raise TargetError(
                f"spec.targetRef: {kind.kind} {canary.spec.target_ref.name} not found"
                f" in namespace {canary.metadata.namespace}"
            )
        return kind, target

    def _scale(self, canary: Canary, kind: WorkloadKind, replicas: int) -> None:
        self.kube.patch(self._target_path(canary, kind), kind.scale_patch(replicas))

    def _target_path(self, canary: Canary, kind: WorkloadKind) -> str:
        return resource_path("apps/v1", kind.plural, canary.metadata.namespace, canary.spec.target_ref.name)

    def _primary_name(self, canary: Canary) -> str:
        return f"{canary.spec.target_ref.name}-primary"

    def _primary(self, canary: Canary, kind: WorkloadKind) -> dict[str, Any] | None:
        path = resource_path("apps/v1", kind.plural, canary.metadata.namespace, self._primary_name(canary))
        return self.kube.get_or_none(path)

    def _canary_replicas(self, canary: Canary, kind: WorkloadKind) -> int:
        primary = self._primary(canary, kind)
        return (kind.replicas(primary) if primary else 0) or self.autoscalers.min_replicas(canary) or 1

    def _selector(self, canary: Canary, target: dict[str, Any]) -> tuple[str, str]:
        match = (target["spec"].get("selector") or {}).get("matchLabels") or {}
        for label in self.selector_labels:
            if label in match:
                return label, match[label]
        raise TargetError(
            f"spec.targetRef: {target.get('kind', 'target')} {target['metadata']['name']} "
            f"selector has none of the labels {', '.join(self.selector_labels)}"
        )

    def _copied(self, values: dict[str, str] | None) -> dict[str, str]:
        def wanted(key: str) -> bool:
            if any(key.startswith(prefix) for prefix in DROPPED_PREFIXES):
                return False
            prefixes = self.include_label_prefixes
            return "*" in prefixes or any(key.startswith(prefix) for prefix in prefixes)

        return {key: value for key, value in (values or {}).items() if wanted(key)}

    def _write_primary(
        self, canary: Canary, kind: WorkloadKind, target: dict[str, Any], replicas: int
    ) -> None:
        ns, name = canary.metadata.namespace, self._primary_name(canary)
        label, value = self._selector(canary, target)
        owner = owner_reference(canary)
        template = copy.deepcopy(kind.hashable_template(target))
        revision = self.revision(canary)
        meta = template.setdefault("metadata", {})
        meta["labels"] = {**(meta.get("labels") or {}), label: f"{value}-primary"}
        meta["annotations"] = {
            **(meta.get("annotations") or {}),
            REVISION_ANNOTATION: sha256_of([revision.spec_hash, revision.tracked_configs])[:16],
        }
        template["spec"] = self.configs.copy_to_primary(ns, template["spec"], owner)
        _rewrite_selectors(template["spec"].get("affinity"), label, value)
        _rewrite_selectors(template["spec"].get("topologySpreadConstraints"), label, value)
        selector = copy.deepcopy(target["spec"]["selector"])
        selector["matchLabels"][label] = f"{value}-primary"
        labels = self._copied(target["metadata"].get("labels"))
        if label in labels:
            labels[label] = f"{value}-primary"
        body = {
            "apiVersion": "apps/v1",
            "kind": kind.kind,
            "metadata": {
                "name": name,
                "namespace": ns,
                "labels": labels,
                "annotations": self._copied(target["metadata"].get("annotations")),
                "ownerReferences": owner,
            },
            "spec": {**kind.primary_spec(target, replicas), "selector": selector, "template": template},
        }
        path = resource_path("apps/v1", kind.plural, ns)
        current = self._primary(canary, kind)
        if current is None:
            self.kube.create(path, body)
        else:
            body["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"]
            self.kube.replace(f"{path}/{name}", body)
