"""The test control plane itself works: what every Kubernetes test in sluice relies on.

Why: when a platform or router test fails, these tell at once whether the cluster underneath is at fault
(Deployments never Ready, CRDs not served, RBAC not enforced, garbage collection off) or sluice is.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client
from kubernetes.client.rest import ApiException

from tests.cluster import controlplane
from tests.harness.poll import wait_until

SMOKE_CRD = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "widgets.smoke.test.sluice.dev"},
    "spec": {
        "group": "smoke.test.sluice.dev",
        "scope": "Namespaced",
        "names": {"plural": "widgets", "singular": "widget", "kind": "Widget", "listKind": "WidgetList"},
        "versions": [
            {
                "name": "v1",
                "served": True,
                "storage": True,
                "subresources": {"status": {}},
                "schema": {
                    "openAPIV3Schema": {
                        "type": "object",
                        "properties": {
                            "spec": {
                                "type": "object",
                                "properties": {"size": {"type": "integer", "minimum": 1}},
                                "required": ["size"],
                            },
                            "status": {"type": "object", "properties": {"phase": {"type": "string"}}},
                        },
                    }
                },
            }
        ],
    },
}


def _deployment(name: str, replicas: int) -> dict[str, Any]:
    labels = {"app": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "labels": labels},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "containers": [
                        {"name": "app", "image": "example.invalid/app:1", "ports": [{"containerPort": 8080}]}
                    ]
                },
            },
        },
    }


def _pod_ready(pod: Any) -> bool:
    return any(c.type == "Ready" and c.status == "True" for c in (pod.status.conditions or []))


def test_deployment_gets_pods_that_become_ready(k8s_api: Any, k8s_namespace: str) -> None:
    apps = client.AppsV1Api(k8s_api)
    core = client.CoreV1Api(k8s_api)
    apps.create_namespaced_deployment(k8s_namespace, _deployment("podinfo", 3))

    def available() -> bool:
        status = apps.read_namespaced_deployment_status("podinfo", k8s_namespace).status
        return status.ready_replicas == 3 and status.available_replicas == 3

    wait_until(available, timeout=60, what="Deployment podinfo to have 3 ready replicas")
    pods = core.list_namespaced_pod(k8s_namespace, label_selector="app=podinfo").items
    assert len(pods) == 3
    pod_net = ipaddress.ip_network(controlplane.POD_CIDR)
    for pod in pods:
        assert pod.status.phase == "Running"
        assert _pod_ready(pod)
        assert pod.spec.node_name.startswith("kwok-node-")
        assert ipaddress.ip_address(pod.status.pod_ip) in pod_net


def test_scale_down_really_deletes_pods(k8s_api: Any, k8s_namespace: str) -> None:
    apps = client.AppsV1Api(k8s_api)
    core = client.CoreV1Api(k8s_api)
    apps.create_namespaced_deployment(k8s_namespace, _deployment("web", 2))
    wait_until(
        lambda: apps.read_namespaced_deployment_status("web", k8s_namespace).status.ready_replicas == 2,
        timeout=60,
        what="2 ready replicas",
    )
    # client 37 defaults a dict PATCH body to json-patch: say merge-patch explicitly
    apps.patch_namespaced_deployment_scale(
        "web", k8s_namespace, {"spec": {"replicas": 0}}, _content_type="application/merge-patch+json"
    )
    wait_until(
        lambda: not core.list_namespaced_pod(k8s_namespace, label_selector="app=web").items,
        timeout=60,
        what="pods to be gone after scaling to 0",
    )


def test_service_gets_safe_cluster_ip_and_endpoints(k8s_api: Any, k8s_namespace: str) -> None:
    apps = client.AppsV1Api(k8s_api)
    core = client.CoreV1Api(k8s_api)
    discovery = client.DiscoveryV1Api(k8s_api)
    apps.create_namespaced_deployment(k8s_namespace, _deployment("echo", 2))
    service = core.create_namespaced_service(
        k8s_namespace,
        {
            "metadata": {"name": "echo"},
            "spec": {"selector": {"app": "echo"}, "ports": [{"port": 80, "targetPort": 8080}]},
        },
    )
    assert ipaddress.ip_address(service.spec.cluster_ip) in ipaddress.ip_network(controlplane.SERVICE_CIDR)

    def ready_endpoints() -> int:
        slices = discovery.list_namespaced_endpoint_slice(
            k8s_namespace, label_selector="kubernetes.io/service-name=echo"
        ).items
        return sum(1 for s in slices for e in (s.endpoints or []) if e.conditions.ready)

    wait_until(lambda: ready_endpoints() == 2, timeout=60, what="2 ready endpoints in the EndpointSlices")


def test_garbage_collector_removes_owned_objects(k8s_api: Any, k8s_namespace: str) -> None:
    apps = client.AppsV1Api(k8s_api)
    apps.create_namespaced_deployment(k8s_namespace, _deployment("gc", 1))
    wait_until(
        lambda: apps.list_namespaced_replica_set(k8s_namespace, label_selector="app=gc").items,
        timeout=60,
        what="the ReplicaSet of Deployment gc",
    )
    apps.delete_namespaced_deployment("gc", k8s_namespace, propagation_policy="Background")
    wait_until(
        lambda: not apps.list_namespaced_replica_set(k8s_namespace, label_selector="app=gc").items,
        timeout=60,
        what="the garbage collector to delete the orphaned ReplicaSet",
    )


def test_crd_is_created_and_served(
    k8s_api: Any, k8s_install_crds: Any, k8s_namespace: str, tmp_path: Path
) -> None:
    assert k8s_install_crds(SMOKE_CRD) == ["widgets.smoke.test.sluice.dev"]
    manifest = tmp_path / "crd.yaml"
    manifest.write_text(yaml.safe_dump(SMOKE_CRD))
    # idempotent: installing again (from a file, or YAML text) replaces in place
    assert k8s_install_crds(manifest) == ["widgets.smoke.test.sluice.dev"]
    assert k8s_install_crds(manifest.read_text()) == ["widgets.smoke.test.sluice.dev"]
    custom = client.CustomObjectsApi(k8s_api)
    group, version, plural = "smoke.test.sluice.dev", "v1", "widgets"
    body = {
        "apiVersion": f"{group}/{version}",
        "kind": "Widget",
        "metadata": {"name": "w1"},
        "spec": {"size": 2},
    }
    created = custom.create_namespaced_custom_object(group, version, k8s_namespace, plural, body)
    assert created["spec"] == {"size": 2}

    with pytest.raises(ApiException) as invalid:  # the structural schema is enforced at admission
        bad = {**body, "metadata": {"name": "w2"}, "spec": {"size": 0}}
        custom.create_namespaced_custom_object(group, version, k8s_namespace, plural, bad)
    assert invalid.value.status == 422

    custom.patch_namespaced_custom_object_status(
        group, version, k8s_namespace, plural, "w1", {"status": {"phase": "Ready"}}
    )
    read = custom.get_namespaced_custom_object(group, version, k8s_namespace, plural, "w1")
    assert read["status"] == {"phase": "Ready"}
    assert read["spec"] == {"size": 2}


def test_rbac_denies_an_unprivileged_token(
    k8s_sa_token: Any, k8s_client_for_token: Any, k8s_namespace: str
) -> None:
    nobody = client.CoreV1Api(k8s_client_for_token(k8s_sa_token("nobody")))
    with pytest.raises(ApiException) as denied:
        nobody.list_namespaced_pod(k8s_namespace)
    assert denied.value.status == 403

    reader_token = k8s_sa_token(
        "reader", rules=[{"apiGroups": [""], "resources": ["pods"], "verbs": ["list"]}]
    )
    reader = k8s_client_for_token(reader_token)
    assert client.CoreV1Api(reader).list_namespaced_pod(k8s_namespace).items == []
    with pytest.raises(ApiException) as forbidden:
        client.AppsV1Api(reader).create_namespaced_deployment(k8s_namespace, _deployment("nope", 1))
    assert forbidden.value.status == 403
    with pytest.raises(ApiException) as other_namespace:
        client.CoreV1Api(reader).list_namespaced_pod("default")
    assert other_namespace.value.status == 403


def test_bad_token_is_unauthorized(k8s_client_for_token: Any) -> None:
    stranger = client.CoreV1Api(k8s_client_for_token("not-a-valid-token"))
    with pytest.raises(ApiException) as unauthorized:
        stranger.list_namespace()
    assert unauthorized.value.status == 401


def test_kubeconfig_and_version(k8s_kubeconfig: Any, k8s_api: Any) -> None:
    assert k8s_kubeconfig.is_file()
    version = client.VersionApi(k8s_api).get_code()
    assert version.git_version.startswith("v1.")
    assert version.git_version != "v0.0.0-master+$Format:%H$"
