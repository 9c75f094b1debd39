"""The chart on a real apiserver: its CRDs admit good Canaries and reject bad ones with the field path, and
the controller runs a whole rollout with a token bound to exactly the chart's RBAC (not cluster-admin).

Why run the controller under the chart's rules: least privilege is only proven by using it. A grant that is
missing shows up here as a 403 in the middle of a rollout; the second test removes one verb on purpose and
checks that the operator can see which permission is missing, in the Canary's status and in the logs.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable
from typing import Any

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException

from controller.runtime.leader import LeaderElector, LeaseTiming
from tests.harness.poll import wait_until
from tests.integration.kubernetes.rollouts import (  # noqa: F401
    SUCCESS_RATE,
    Cluster,
    FakePrometheus,
    WeightRecorder,
    canary,
    cluster_fixture,
    deployment,
    prometheus_fixture,
    running_controller,
)
from tests.unit.chart.helm import find, template

pytestmark = pytest.mark.timeout(300)


def chart_rules(namespace: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(ClusterRole rules, Lease Role rules) exactly as `helm template` renders them."""
    documents = template("leaderElection.enabled=true", namespace=namespace)
    (cluster_role,) = find(documents, "ClusterRole")
    (lease_role,) = find(documents, "Role")
    return cluster_role["rules"], lease_role["rules"]


def without_verb(rules: list[dict[str, Any]], resource: str, verb: str) -> list[dict[str, Any]]:
    trimmed = copy.deepcopy(rules)
    for rule in trimmed:
        if resource in rule["resources"]:
            assert verb in rule["verbs"], f"the chart does not grant {verb} on {resource}"
            rule["verbs"].remove(verb)
    return trimmed


def split_weight(cluster: Cluster, name: str = "podinfo") -> int | None:
    split = cluster.get("split.smi-spec.io/v1alpha4", "trafficsplits", name)
    if split is None:
        return None
    return next(int(b["weight"]) for b in split["spec"]["backends"] if b["service"] == f"{name}-canary")


# ------------------------------------------------------------------------------------------- CRDs


def test_chart_crds_apply_and_reject_invalid_canaries_with_the_field_path(
    k8s_api: Any, k8s_namespace: str, k8s_install_crds: Callable[..., list[str]]
) -> None:
    crds = find(template(include_crds=True), "CustomResourceDefinition")
    names = k8s_install_crds(crds)
    assert set(names) >= {"canaries.sluice.dev", "metrictemplates.sluice.dev", "alertproviders.sluice.dev"}
    custom = client.CustomObjectsApi(k8s_api)

    def create(body: dict[str, Any]) -> Any:
        # Strict, as kubectl sends by default: unknown fields are an error, not silently pruned.
        return custom.create_namespaced_custom_object(
            "sluice.dev", "v1beta1", k8s_namespace, "canaries", body, field_validation="Strict"
        )

    analysis = {"interval": "1m", "threshold": 5, "stepWeight": 10, "maxWeight": 50}
    created = create(canary("good", analysis))
    assert created["spec"]["analysis"]["stepWeight"] == 10

    bad_step = canary("bad-step", {**analysis, "stepWeight": 150})
    unknown = canary("unknown-field", {**analysis, "stepWieght": 10})
    no_target = canary("no-target", analysis)
    del no_target["spec"]["targetRef"]
    cases = [
        (bad_step, "spec.analysis.stepWeight", "less than or equal to 100"),
        (unknown, "spec.analysis.stepWieght", "unknown field"),
        (no_target, "spec.targetRef", "Required value"),
    ]
    for body, path, reason in cases:
        with pytest.raises(ApiException) as raised:
            create(body)
        message = str(raised.value.body)
        assert raised.value.status in (400, 422), message
        assert path in message and reason in message, f"{body['metadata']['name']}: {message}"


def test_every_chart_manifest_passes_the_apiservers_strict_validation(
    k8s_api: Any, k8s_namespace: str
) -> None:
    """Server-side dry run, Strict field validation: a typo in a template fails here, not in production."""
    documents = template(
        "replicaCount=2", "leaderElection.enabled=true", "podDisruptionBudget.enabled=true",
        "readinessProbe.httpGet.path=/healthz", "notifications.existingSecret=sluice-notifications",
        namespace=k8s_namespace,
    )  # fmt: skip
    core, rbac = client.CoreV1Api(k8s_api), client.RbacAuthorizationV1Api(k8s_api)
    creators: dict[str, Callable[[dict[str, Any], dict[str, str]], Any]] = {
        "ServiceAccount": lambda d, kw: core.create_namespaced_service_account(k8s_namespace, d, **kw),
        "Service": lambda d, kw: core.create_namespaced_service(k8s_namespace, d, **kw),
        "ClusterRole": lambda d, kw: rbac.create_cluster_role(d, **kw),
        "ClusterRoleBinding": lambda d, kw: rbac.create_cluster_role_binding(d, **kw),
        "Role": lambda d, kw: rbac.create_namespaced_role(k8s_namespace, d, **kw),
        "RoleBinding": lambda d, kw: rbac.create_namespaced_role_binding(k8s_namespace, d, **kw),
        "Deployment": lambda d, kw: client.AppsV1Api(k8s_api).create_namespaced_deployment(
            k8s_namespace, d, **kw
        ),
        "PodDisruptionBudget": lambda d, kw: client.PolicyV1Api(
            k8s_api
        ).create_namespaced_pod_disruption_budget(k8s_namespace, d, **kw),
    }
    assert {d["kind"] for d in documents} == set(creators), sorted({d["kind"] for d in documents})
    for document in documents:
        creators[document["kind"]](document, {"dry_run": "All", "field_validation": "Strict"})


# ------------------------------------------------------------------------------------------- RBAC


def test_controller_completes_a_rollout_with_only_the_charts_rbac(
    cluster: Cluster,
    prometheus: FakePrometheus,
    k8s_sa_token: Callable[..., str],
    k8s_client_for_token: Callable[[str], Any],
    caplog: pytest.LogCaptureFixture,
) -> None:
    cluster_rules, lease_rules = chart_rules(cluster.namespace)
    token = k8s_sa_token("sluice", rules=lease_rules, cluster_rules=cluster_rules)
    restricted = k8s_client_for_token(token)
    # The ServiceAccount really is restricted: nothing the chart does not grant.
    with pytest.raises(ApiException) as denied:
        client.CoreV1Api(restricted).list_namespaced_pod(cluster.namespace)
    assert denied.value.status == 403

    # Leader election with the chart's Lease Role.
    elector = LeaderElector(restricted, cluster.namespace, timing=LeaseTiming.scaled(3))
    elector.start()
    try:
        wait_until(elector.is_leader, timeout=15, what="leadership with the chart's Lease rules")
    finally:
        elector.stop()

    cluster.create("apps/v1", "deployments", deployment("podinfo"))
    analysis = {"interval": "1s", "threshold": 2, "stepWeight": 25, "maxWeight": 50, "metrics": SUCCESS_RATE}
    cluster.create("sluice.dev/v1beta1", "canaries", canary("podinfo", analysis, prometheus.url))
    with caplog.at_level(logging.WARNING), running_controller(restricted, cluster.namespace):
        cluster.wait_phase("podinfo", "Initialized")
        recorder = WeightRecorder(lambda: split_weight(cluster))
        cluster.set_image("podinfo", "example.invalid/podinfo:2")
        cluster.wait_phase("podinfo", "Succeeded", timeout=90)
        assert recorder.stop() == [0, 25, 50, 0]
    assert cluster.image("podinfo-primary") == "example.invalid/podinfo:2"
    forbidden = [r.getMessage() for r in caplog.records if "forbidden" in r.getMessage().lower()]
    assert not forbidden, forbidden


def test_a_missing_verb_is_a_clear_permission_error_in_status_and_logs(
    cluster: Cluster,
    prometheus: FakePrometheus,
    k8s_sa_token: Callable[..., str],
    k8s_client_for_token: Callable[[str], Any],
    caplog: pytest.LogCaptureFixture,
) -> None:
    cluster_rules, lease_rules = chart_rules(cluster.namespace)
    cluster_rules = without_verb(cluster_rules, "trafficsplits", "update")
    restricted = k8s_client_for_token(
        k8s_sa_token("sluice-no-update", rules=lease_rules, cluster_rules=cluster_rules)
    )
    cluster.create("apps/v1", "deployments", deployment("podinfo"))
    analysis = {"interval": "1s", "threshold": 2, "stepWeight": 25, "maxWeight": 50, "metrics": SUCCESS_RATE}
    cluster.create("sluice.dev/v1beta1", "canaries", canary("podinfo", analysis, prometheus.url))

    def names_the_permission(text: str) -> bool:
        # The apiserver's message, possibly inside an escaped JSON body: which verb, which resource, whom.
        plain = text.replace('\\"', '"')
        return 'cannot update resource "trafficsplits"' in plain and "system:serviceaccount" in plain

    with caplog.at_level(logging.WARNING), running_controller(restricted, cluster.namespace):
        cluster.wait_phase("podinfo", "Initialized")  # creating the split is allowed; stepping it is not
        cluster.set_image("podinfo", "example.invalid/podinfo:2")
        status = wait_until(
            lambda: (
                (s := cluster.canary_status("podinfo"))
                and names_the_permission(s.get("lastReason", ""))
                and s
            ),
            timeout=60,
            interval=0.2,
            what=f"the permission error in the Canary's status (now {cluster.canary_status('podinfo')})",
        )
    assert "403" in status["lastReason"] and "forbidden" in status["lastReason"].lower()
    assert split_weight(cluster) == 0, "no weight may move without the permission"
    logged = [r.getMessage() + str(r.exc_info[1] if r.exc_info else "") for r in caplog.records]
    assert any(names_the_permission(line) for line in logged), logged[-5:]
