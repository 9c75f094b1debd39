"""The Helm chart: lints clean, renders, and what it renders is what a platform team is promised.

Why render and assert instead of snapshotting: a snapshot would pass whatever the chart says; these tests
pin the properties that matter (non-root, read-only root, limits, probes, HA guards, namespaced RBAC).
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.unit.chart.helm import CHART, find, helm, one, template

pytestmark = pytest.mark.timeout(1800)  # the first call may build helm (cold: a few minutes)


def _container(documents: list[dict[str, Any]]) -> dict[str, Any]:
    deployment = one(documents, "Deployment")
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    return container


def test_helm_lint_is_clean() -> None:
    done = helm("lint", "--strict", str(CHART))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "[WARNING]" not in done.stdout and "[ERROR]" not in done.stdout, done.stdout


def test_lint_clean_with_every_option_on() -> None:
    done = helm(
        "lint", "--strict", str(CHART),
        "--set", "replicaCount=2,leaderElection.enabled=true,serviceMonitor.enabled=true",
        "--set", "podDisruptionBudget.enabled=true",
        "--set", "readinessProbe.httpGet.path=/healthz,controller.namespace=team-a",
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr


def test_render_has_the_controller_and_least_privilege_rbac() -> None:
    documents = template("leaderElection.enabled=true")
    kinds = sorted(d["kind"] for d in documents)
    assert kinds == sorted(
        [
            "ServiceAccount",
            "ClusterRole",
            "ClusterRoleBinding",
            "Role",
            "RoleBinding",
            "Service",
            "Deployment",
        ]
    )
    for doc in documents:
        if doc["kind"] not in ("ClusterRole", "ClusterRoleBinding"):
            assert doc["metadata"]["namespace"] == "sluice-system", doc["kind"]
    binding = one(documents, "ClusterRoleBinding")
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "sluice", "namespace": "sluice-system"}]
    lease_role = one(documents, "Role")
    assert lease_role["rules"] == [
        {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"], "verbs": ["get", "create", "update"]}
    ]
    for rule in one(documents, "ClusterRole")["rules"]:
        assert "*" not in rule["verbs"] and "*" not in rule["resources"] and "*" not in rule["apiGroups"]


def test_controller_runs_non_root_on_a_read_only_root_filesystem() -> None:
    documents = template()
    pod = one(documents, "Deployment")["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] != 0
    assert pod["serviceAccountName"] == "sluice"
    container = _container(documents)
    security = container["securityContext"]
    assert security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert security["capabilities"]["drop"] == ["ALL"]
    # The read-only root needs a writable /tmp (Python's tempfile).
    assert {"name": "tmp", "mountPath": "/tmp"} in container["volumeMounts"]
    assert any(v["name"] == "tmp" and "emptyDir" in v for v in pod["volumes"])


def test_controller_has_requests_limits_and_probes() -> None:
    container = _container(template())
    assert set(container["resources"]) == {"requests", "limits"}
    for part in ("requests", "limits"):
        assert set(container["resources"][part]) == {"cpu", "memory"}
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert container["ports"] == [{"name": "http", "containerPort": 8080, "protocol": "TCP"}]
    assert container["args"][0] == "controller"
    assert "--port=8080" in container["args"] and "--host=0.0.0.0" in container["args"]


def test_two_replicas_with_leader_election() -> None:
    documents = template("replicaCount=2", "leaderElection.enabled=true")
    deployment = one(documents, "Deployment")
    assert deployment["spec"]["replicas"] == 2
    assert deployment["spec"]["strategy"] == {"type": "Recreate"}
    args = _container(documents)["args"]
    assert "--leader-elect" in args
    assert "--leader-elect-namespace=sluice-system" in args
    assert "--leader-elect-lease-duration=15" in args


def test_two_replicas_without_leader_election_is_refused() -> None:
    with pytest.raises(RuntimeError, match=re.escape("leaderElection.enabled=true")):
        template("replicaCount=2", "leaderElection.enabled=false")


def test_by_default_one_replica_without_leader_election_and_no_lease_role() -> None:
    documents = template()
    assert find(documents, "Role") == [] and find(documents, "RoleBinding") == []
    assert not any(a.startswith("--leader-elect") for a in _container(documents)["args"])


def test_one_namespace_gets_a_role_instead_of_a_cluster_role() -> None:
    documents = template("controller.namespace=team-a")
    assert find(documents, "ClusterRole") == [] and find(documents, "ClusterRoleBinding") == []
    (role,) = [r for r in find(documents, "Role") if r["metadata"]["namespace"] == "team-a"]
    (binding,) = [b for b in find(documents, "RoleBinding") if b["metadata"]["namespace"] == "team-a"]
    assert binding["roleRef"]["name"] == role["metadata"]["name"]
    assert binding["subjects"][0]["namespace"] == "sluice-system"
    assert "--namespace=team-a" in _container(documents)["args"]


def test_service_monitor_and_pod_disruption_budget_are_optional() -> None:
    documents = template(
        "serviceMonitor.enabled=true", "podDisruptionBudget.enabled=true", "replicaCount=2",
        "leaderElection.enabled=true",
        "readinessProbe.httpGet.path=/healthz",
    )  # fmt: skip
    monitor = one(documents, "ServiceMonitor")
    assert monitor["spec"]["endpoints"][0]["port"] == "http"
    assert monitor["spec"]["selector"]["matchLabels"] == one(documents, "Service")["spec"]["selector"]
    pdb = one(documents, "PodDisruptionBudget")
    assert pdb["spec"]["maxUnavailable"] == 1
    assert (
        pdb["spec"]["selector"]["matchLabels"]
        == one(documents, "Deployment")["spec"]["selector"]["matchLabels"]
    )


def test_a_budget_that_would_block_drains_is_refused() -> None:
    with pytest.raises(RuntimeError, match=re.escape("readinessProbe.httpGet.path=/healthz")):
        template("podDisruptionBudget.enabled=true", "replicaCount=2", "leaderElection.enabled=true")


def test_metrics_service_reaches_standbys_too() -> None:
    service = one(template(), "Service")
    assert service["spec"]["publishNotReadyAddresses"] is True
    assert service["spec"]["ports"][0]["targetPort"] == "http"


def test_image_by_digest_wins_over_tag() -> None:
    container = _container(template("image.repository=registry.example/sluice", "image.digest=sha256:abc"))
    assert container["image"] == "registry.example/sluice@sha256:abc"
    assert _container(template())["image"] == "sluice:0.1.0"


def test_crds_render_with_the_chart() -> None:
    if not (CHART / "crds").is_dir():
        pytest.skip("charts/sluice/crds/ not generated yet (make crds)")
    crds = find(template(include_crds=True), "CustomResourceDefinition")
    assert {c["metadata"]["name"] for c in crds} >= {
        "canaries.sluice.dev",
        "metrictemplates.sluice.dev",
        "alertproviders.sluice.dev",
    }
