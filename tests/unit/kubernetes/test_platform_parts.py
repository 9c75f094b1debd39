"""The Kubernetes platform's pure parts: revisions, config references, readiness, DaemonSet scaling."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from controller.platforms.kubernetes import configs
from controller.platforms.kubernetes.daemonset import SCALE_TO_ZERO, DaemonSetKind
from controller.platforms.kubernetes.deployment import DeploymentKind
from controller.platforms.kubernetes.readiness import needed, rollout_readiness
from controller.platforms.kubernetes.revision import sha256_of, template_revision

POD_SPEC = {
    "containers": [
        {
            "name": "app",
            "env": [
                {"name": "A", "valueFrom": {"configMapKeyRef": {"name": "cm-env", "key": "a"}}},
                {"name": "B", "valueFrom": {"secretKeyRef": {"name": "sec-env", "key": "b"}}},
            ],
            "envFrom": [{"configMapRef": {"name": "cm-from"}}, {"secretRef": {"name": "sec-from"}}],
        }
    ],
    "initContainers": [{"name": "init", "envFrom": [{"configMapRef": {"name": "cm-init"}}]}],
    "volumes": [
        {"name": "v1", "configMap": {"name": "cm-vol"}},
        {"name": "v2", "secret": {"secretName": "sec-vol"}},
        {
            "name": "v3",
            "projected": {"sources": [{"configMap": {"name": "cm-proj"}}, {"secret": {"name": "sec-proj"}}]},
        },
    ],
}


def test_revision_is_stable_across_key_order_and_a_json_round_trip() -> None:
    workload = {"spec": {"template": {"metadata": {"labels": {"b": "2", "a": "1"}}, "spec": POD_SPEC}}}
    reordered = json.loads(json.dumps(workload, sort_keys=True))
    reordered["spec"]["template"] = dict(reversed(list(reordered["spec"]["template"].items())))
    assert template_revision(workload) == template_revision(reordered)
    assert len(template_revision(workload)) == 64
    assert sha256_of({"a": 1}) != sha256_of({"a": 2})


def test_every_kind_of_config_reference_is_found_and_renamed() -> None:
    assert configs.referenced(POD_SPEC) == {
        ("ConfigMap", "cm-env"), ("ConfigMap", "cm-from"), ("ConfigMap", "cm-init"), ("ConfigMap", "cm-vol"),
        ("ConfigMap", "cm-proj"), ("Secret", "sec-env"), ("Secret", "sec-from"), ("Secret", "sec-vol"),
        ("Secret", "sec-proj"),
    }  # fmt: skip
    renamed = configs.renamed(POD_SPEC, lambda kind, name: f"{name}-primary" if kind == "Secret" else name)
    assert ("Secret", "sec-vol-primary") in configs.referenced(renamed)
    assert ("ConfigMap", "cm-vol") in configs.referenced(renamed)
    assert ("Secret", "sec-vol") in configs.referenced(POD_SPEC)  # the original is untouched


def test_tracking_can_be_disabled_per_config() -> None:
    assert configs.tracked({"metadata": {}})
    assert not configs.tracked({"metadata": {"annotations": {"flagger.app/config-tracking": "disabled"}}})
    assert not configs.tracked({"metadata": {"annotations": {"sluice.dev/config-tracking": "disabled"}}})


def _deployment(replicas: int = 2, **status: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": "podinfo", "generation": 2},
        "spec": {"replicas": replicas, "template": {"spec": {}}},
        "status": {"observedGeneration": 2, **status},
    }


def test_deployment_readiness() -> None:
    kind = DeploymentKind()
    ready = _deployment(replicas=2, replicas_=0, updatedReplicas=2, availableReplicas=2)
    ready["status"]["replicas"] = 2
    assert kind.readiness(ready, None, 600).state == "ready"
    stale = _deployment(updatedReplicas=2, availableReplicas=2)
    stale["status"]["observedGeneration"] = 1
    assert "observed" in kind.readiness(stale, None, 600).reason
    rolling = _deployment(replicas=2, updatedReplicas=1, availableReplicas=2)
    assert kind.readiness(rolling, None, 600).reason.endswith("1 of 2 replicas updated")
    half = _deployment(updatedReplicas=2, availableReplicas=1)
    half["status"]["replicas"] = 2
    assert kind.readiness(half, None, 600).state == "waiting"
    assert kind.readiness(half, 50, 600).state == "ready"
    assert kind.readiness(_deployment(replicas=0), None, 600).reason == "podinfo is scaled to zero"


def test_deadlines_fail_readiness() -> None:
    exceeded = _deployment(updatedReplicas=0, conditions=[
        {"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded", "message": "slow"}
    ])  # fmt: skip
    assert DeploymentKind().readiness(exceeded, None, 600).state == "failed"
    old = (datetime.now(UTC) - timedelta(seconds=120)).strftime("%Y-%m-%dT%H:%M:%SZ")
    condition = {"type": "Available", "status": "False", "reason": "MinimumReplicasUnavailable",
                 "lastTransitionTime": old}  # fmt: skip
    unavailable = _deployment(updatedReplicas=2, availableReplicas=0, conditions=[condition])
    assert rollout_readiness(unavailable, 2, 2, 0, 0, None, 60).state == "failed"
    assert rollout_readiness(unavailable, 2, 2, 0, 0, None, 600).state == "waiting"


def test_ready_threshold_needs_at_least_one() -> None:
    assert needed(3, None) == 3
    assert needed(3, 50) == 2
    assert needed(1, 1) == 1


def test_daemonset_scale_to_zero_is_not_a_new_revision() -> None:
    kind = DaemonSetKind()
    ds = {"metadata": {"name": "ds"}, "spec": {"template": {"spec": {"containers": []}}}}
    scaled = {
        "metadata": {"name": "ds"},
        "spec": {"template": {"spec": {"containers": [], "nodeSelector": {SCALE_TO_ZERO: "true"}}}},
    }
    assert kind.replicas(ds) == 1 and kind.replicas(scaled) == 0
    assert kind.hashable_template(scaled) == kind.hashable_template(ds)
    assert kind.scale_patch(0)["spec"]["template"]["spec"]["nodeSelector"] == {SCALE_TO_ZERO: "true"}
    assert kind.scale_patch(1)["spec"]["template"]["spec"]["nodeSelector"] == {SCALE_TO_ZERO: None}
