"""The chart's gateway mode: manifests the apiserver accepts, command lines the CLI parses, and RBAC that is
exactly what the control plane watches, proven by running the watches on a token with only those rules."""

from __future__ import annotations

from typing import Any

import click
import pytest
import yaml
from kubernetes import client

from controller.cli.main import cli
from mesh.control.watch import RESOURCES, Api, Store, Watcher, wait_synced
from mesh.identity import ISSUE_PATH
from mesh.proxy.config import parse_config
from tests.integration.kubernetes.conftest import k8s_install_crds  # noqa: F401 - fixture
from tests.integration.mesh.test_control_plane import CRDS, TRAFFIC_TARGET_CRD
from tests.unit.chart.helm import find, template

GATEWAY = ("gateway.enabled=true", "gateway.autoscaling.enabled=true", "gateway.controlPlane.ca.enabled=true",
           "gateway.tracing.collector=http://otel.monitoring:4318/v1/traces")  # fmt: skip


def gateway_documents(namespace: str = "sluice-system") -> list[dict[str, Any]]:
    everything = template(*GATEWAY, namespace=namespace)
    controller_only = {(d["kind"], d["metadata"]["name"]) for d in template(namespace=namespace)}
    return [d for d in everything if (d["kind"], d["metadata"]["name"]) not in controller_only]


def test_gateway_mode_renders_nothing_unless_enabled():
    assert gateway_documents() and not [
        d for d in template() if "mesh" in d["metadata"]["name"] or d["metadata"]["name"] == "sluice-proxy"
    ]


def test_the_rendered_command_lines_parse(tmp_path):
    documents = gateway_documents()
    (config_map,) = find(documents, "ConfigMap", "sluice-proxy")
    config = tmp_path / "proxy.yaml"  # where the ConfigMap is mounted, for click's exists check
    config.write_text(config_map["data"]["proxy.yaml"])
    for deployment in find(documents, "Deployment"):
        args = deployment["spec"]["template"]["spec"]["containers"][0]["args"]
        args = [f"--config={config}" if a == "--config=/etc/sluice/proxy.yaml" else a for a in args]
        group = cli
        while args and isinstance(group, click.Group) and args[0] in group.list_commands(None):  # type: ignore[arg-type]
            group, args = group.get_command(None, args[0]), args[1:]  # type: ignore[arg-type,union-attr]
        context = group.make_context(group.name, list(args))  # type: ignore[union-attr]
        if group.name == "proxy":
            assert (
                context.params["control_plane"] == "http://sluice-mesh-control-plane.sluice-system.svc:15010"
            )
            assert context.params["admin_port"] == 15000 and context.params["config_path"] == str(config)
        else:
            assert group.name == "control-plane" and context.params["otlp_collector"].startswith(
                "http://otel"
            )
            assert context.params["require_proxy_token"] is True
            assert context.params["audiences"] == ("sluice-mesh",)


def test_the_gateway_gets_its_mesh_token_projected_where_the_proxy_reads_it():
    documents = gateway_documents()
    (deployment,) = find(documents, "Deployment", "sluice-proxy")
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert pod["automountServiceAccountToken"] is False  # no apiserver token: the gateway never calls it
    (volume,) = [v for v in pod["volumes"] if v["name"] == "mesh-token"]
    (source,) = volume["projected"]["sources"]
    assert source["serviceAccountToken"] == {
        "audience": "sluice-mesh",
        "expirationSeconds": 3600,
        "path": "token",
    }
    (mount,) = [m for m in container["volumeMounts"] if m["name"] == "mesh-token"]
    token_path = f"{mount['mountPath']}/token"
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["SLUICE_CONTROL_PLANE_TOKEN_FILE"] == token_path  # mesh/proxy/config_watch.py
    (config_map,) = find(documents, "ConfigMap", "sluice-proxy")
    tls = parse_config(yaml.safe_load(config_map["data"]["proxy.yaml"])).tls
    assert tls is not None and tls.issuer is not None
    assert tls.issuer.token_file == token_path  # mesh/proxy/certs_helper.py
    assert tls.issuer.url == "http://sluice-mesh-control-plane.sluice-system.svc:15010" + ISSUE_PATH
    (config_mount,) = [m for m in container["volumeMounts"] if m["name"] == "config"]
    assert f"--config={config_mount['mountPath']}/proxy.yaml" in container["args"]


def test_without_the_ca_the_gateway_has_no_tls_but_still_its_token():
    documents = template("gateway.enabled=true")
    assert not find(documents, "ConfigMap", "sluice-proxy")
    (deployment,) = find(documents, "Deployment", "sluice-proxy")
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    assert not [a for a in container["args"] if a.startswith("--config")]
    assert {e["name"] for e in container["env"]} >= {"SLUICE_CONTROL_PLANE_TOKEN_FILE"}
    (role,) = find(documents, "ClusterRole", "sluice-mesh")
    assert {
        "resources": ["tokenreviews"],
        "apiGroups": ["authentication.k8s.io"],
        "verbs": ["create"],
    } in role["rules"]  # the config API's TokenReview
    (control_plane,) = find(documents, "Deployment", "sluice-mesh-control-plane")
    off = template("gateway.enabled=true", "gateway.controlPlane.requireProxyToken=false")
    (role,) = find(off, "ClusterRole", "sluice-mesh")
    assert "tokenreviews" not in str(role["rules"])
    assert "--require-proxy-token" in control_plane["spec"]["template"]["spec"]["containers"][0]["args"]


def test_control_plane_rbac_is_exactly_what_it_watches():
    (role,) = find(gateway_documents(), "ClusterRole")
    granted = {(g, r, v) for rule in role["rules"] for g in rule["apiGroups"] for r in rule["resources"]
               for v in rule["verbs"]}  # fmt: skip
    watched = {(r.group, r.plural, verb) for r in RESOURCES for verb in ("list", "watch")}
    assert granted == watched | {("authentication.k8s.io", "tokenreviews", "create")}  # the CA's TokenReview
    (ca_role,) = find(gateway_documents(), "Role")
    assert ca_role["rules"] == [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["get", "create"]}]


@pytest.mark.parametrize("kind", ["Deployment", "PodDisruptionBudget", "HorizontalPodAutoscaler"])
def test_each_gateway_namespace_gets_its_own(kind):
    documents = template(*GATEWAY, "gateway.namespaces={shop,team-b}")
    assert {(d["metadata"]["namespace"], d["metadata"]["name"]) for d in find(documents, kind)} >= {
        ("shop", "sluice-proxy"), ("team-b", "sluice-proxy")}  # fmt: skip


def test_gateway_manifests_pass_the_apiservers_strict_validation(k8s_api, k8s_namespace):
    documents = gateway_documents(k8s_namespace)
    core, rbac, apps = (
        client.CoreV1Api(k8s_api),
        client.RbacAuthorizationV1Api(k8s_api),
        client.AppsV1Api(k8s_api),
    )
    policy, autoscaling = client.PolicyV1Api(k8s_api), client.AutoscalingV2Api(k8s_api)
    creators = {
        "ServiceAccount": lambda d, kw: core.create_namespaced_service_account(k8s_namespace, d, **kw),
        "Service": lambda d, kw: core.create_namespaced_service(k8s_namespace, d, **kw),
        "ClusterRole": lambda d, kw: rbac.create_cluster_role(d, **kw),
        "ClusterRoleBinding": lambda d, kw: rbac.create_cluster_role_binding(d, **kw),
        "Role": lambda d, kw: rbac.create_namespaced_role(k8s_namespace, d, **kw),
        "RoleBinding": lambda d, kw: rbac.create_namespaced_role_binding(k8s_namespace, d, **kw),
        "Deployment": lambda d, kw: apps.create_namespaced_deployment(k8s_namespace, d, **kw),
        "ConfigMap": lambda d, kw: core.create_namespaced_config_map(k8s_namespace, d, **kw),
        "PodDisruptionBudget": lambda d, kw: policy.create_namespaced_pod_disruption_budget(
            k8s_namespace, d, **kw),
        "HorizontalPodAutoscaler": lambda d, kw: autoscaling.create_namespaced_horizontal_pod_autoscaler(
            k8s_namespace, d, **kw),
    }  # fmt: skip
    assert {d["kind"] for d in documents} == set(creators)
    for document in documents:
        creators[document["kind"]](document, {"dry_run": "All", "field_validation": "Strict"})


def test_the_control_plane_watches_everything_with_only_the_charts_rbac(
    k8s_cluster,
    k8s_api,
    k8s_sa_token,
    k8s_install_crds,  # noqa: F811
):
    k8s_install_crds([CRDS / "smi.yaml", CRDS / "gateway-api.yaml", TRAFFIC_TARGET_CRD])
    (role,) = find(gateway_documents(), "ClusterRole")
    token = k8s_sa_token("sluice-mesh", cluster_rules=role["rules"])
    api_client = k8s_cluster.client_for_token(token)
    store = Store()
    watchers = [Watcher(Api(api_client), resource, store) for resource in RESOURCES]
    try:
        for watcher in watchers:
            watcher.start()
        assert wait_synced(watchers, 30)
        states = {w.resource.plural: w.state for w in watchers}
        assert set(states.values()) == {"watching"}, states  # no 403 anywhere
    finally:
        for watcher in watchers:
            watcher.stop()
        api_client.close()


def test_the_mesh_ca_issues_with_only_the_charts_rbac(k8s_cluster, k8s_namespace, k8s_sa_token):
    from cryptography import x509

    from mesh import spiffe
    from mesh.identity import cluster_issuer, identity_of
    from mesh.proxy.certs_helper import key_and_csr

    documents = gateway_documents(k8s_namespace)
    (role,), (ca_role,) = find(documents, "ClusterRole"), find(documents, "Role")
    token = k8s_sa_token("sluice-mesh", rules=ca_role["rules"], cluster_rules=role["rules"])
    proxy_token = k8s_sa_token("sluice-proxy")
    api_client = k8s_cluster.client_for_token(token)
    try:
        issuer = cluster_issuer(api_client, k8s_namespace, "sluice-mesh-ca")  # creates the Secret
        chain = issuer.issue(key_and_csr()[1], proxy_token)
        leaf = x509.load_pem_x509_certificates(chain)[0]
        assert (
            identity_of(leaf)
            == spiffe.Identity(spiffe.DEFAULT_TRUST_DOMAIN, k8s_namespace, "sluice-proxy").uri
        )
        cluster_issuer(api_client, k8s_namespace, "sluice-mesh-ca")  # and reads it back the next time
    finally:
        api_client.close()


def test_the_control_plane_takes_the_gateways_projected_token_and_no_other(
    k8s_cluster, k8s_api, k8s_namespace, k8s_sa_token
):
    """The audience the chart projects is the audience the control plane requires (`--audience`)."""
    from mesh.control.auth import CachedReviews, authorize_node
    from mesh.identity import IssuanceRefused, KubernetesTokenReviewer

    documents = gateway_documents(k8s_namespace)
    (role,) = find(documents, "ClusterRole")
    (deployment,) = find(documents, "Deployment", "sluice-proxy")
    (volume,) = [v for v in deployment["spec"]["template"]["spec"]["volumes"] if v["name"] == "mesh-token"]
    projected = volume["projected"]["sources"][0]["serviceAccountToken"]
    default_token = k8s_sa_token("sluice-proxy")  # audience: the apiserver's
    request = {
        "spec": {"audiences": [projected["audience"]], "expirationSeconds": projected["expirationSeconds"]}
    }
    core = client.CoreV1Api(k8s_api)
    mesh_token = core.create_namespaced_service_account_token(
        "sluice-proxy", k8s_namespace, request
    ).status.token
    api_client = k8s_cluster.client_for_token(k8s_sa_token("sluice-mesh", cluster_rules=role["rules"]))
    try:
        reviews = CachedReviews(KubernetesTokenReviewer(api_client, [projected["audience"]]))
        assert authorize_node(reviews, f"Bearer {mesh_token}", k8s_namespace) == (
            k8s_namespace,
            "sluice-proxy",
        )
        with pytest.raises(IssuanceRefused) as refused:
            authorize_node(reviews, f"Bearer {default_token}", k8s_namespace)
        assert refused.value.status == 401
    finally:
        api_client.close()
