"""Rollback, revisions, config tracking, deletion and bad input on the real control plane
(reference/flagger.md §4 scenarios 2-4, 8, 10, 11, 17, 19, 20; and the invalid-Canary acceptance).
"""

from __future__ import annotations

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

STEPS = {"interval": "1s", "threshold": 2, "stepWeight": 20, "maxWeight": 40, "metrics": SUCCESS_RATE}
CANARIES = "sluice.dev/v1beta1"


def _canary_weight(cluster: Cluster) -> int | None:
    split = cluster.get("split.smi-spec.io/v1alpha4", "trafficsplits", "podinfo")
    return split and {b["service"]: b["weight"] for b in split["spec"]["backends"]}["podinfo-canary"]


def _reason(cluster: Cluster, name: str) -> str:
    return cluster.canary_status(name).get("lastReason") or ""


def test_failed_checks_roll_back_and_reverting_the_image_starts_no_run(
    cluster: Cluster, prometheus: FakePrometheus
) -> None:
    cluster.create("apps/v1", "deployments", deployment("podinfo"))
    cluster.create(CANARIES, "canaries", canary("podinfo", STEPS, prometheus.url))
    with running_controller(cluster.api, cluster.namespace):
        cluster.wait_phase("podinfo", "Initialized")
        prometheus.value = 42.0
        recorder = WeightRecorder(lambda: _canary_weight(cluster))
        cluster.set_image("podinfo", "example.invalid/podinfo:2")
        cluster.wait_phase("podinfo", "Failed", timeout=60)
        assert recorder.stop()[-1] == 0
        assert _canary_weight(cluster) == 0
        assert cluster.replicas("podinfo") == 0
        assert cluster.image("podinfo-primary") == "example.invalid/podinfo:1"
        assert cluster.replicas("podinfo-primary") == 2

        prometheus.value = 100.0
        cluster.set_image("podinfo", "example.invalid/podinfo:1")
        reasons = WeightRecorder(lambda: _reason(cluster, "podinfo"))
        try:
            wait_until(
                lambda: "reverted to the primary's revision" in _reason(cluster, "podinfo"),
                timeout=10,
                what="the revert to be seen",
            )
        except TimeoutError:
            raise AssertionError(reasons.stop()) from None
        assert cluster.canary_status("podinfo")["phase"] == "Failed"
        assert cluster.replicas("podinfo") == 0

        cluster.set_image("podinfo", "example.invalid/podinfo:3")
        cluster.wait_phase("podinfo", "Succeeded", timeout=60)
        assert cluster.image("podinfo-primary") == "example.invalid/podinfo:3"


def test_a_config_map_change_alone_starts_a_run_and_promotes_the_primary_copy(
    cluster: Cluster, prometheus: FakePrometheus
) -> None:
    config = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "podinfo-config"},
        "data": {"color": "blue"},
    }
    cluster.create("v1", "configmaps", config)
    cluster.create("apps/v1", "deployments", deployment("podinfo", config="podinfo-config"))
    cluster.create(CANARIES, "canaries", canary("podinfo", STEPS, prometheus.url))
    with running_controller(cluster.api, cluster.namespace):
        status = cluster.wait_phase("podinfo", "Initialized")
        assert list(status["trackedConfigs"]) == ["ConfigMap/podinfo-config"]
        copy = cluster.get("v1", "configmaps", "podinfo-config-primary")
        assert copy is not None and copy["data"] == {"color": "blue"}
        env_from = cluster.deployment("podinfo-primary")["spec"]["template"]["spec"]["containers"][0][
            "envFrom"
        ]
        assert env_from == [{"configMapRef": {"name": "podinfo-config-primary"}}]

        cluster.patch("v1", "configmaps", "podinfo-config", {"data": {"color": "green"}})
        cluster.wait_phase("podinfo", "Progressing", timeout=30)
        cluster.wait_phase("podinfo", "Succeeded", timeout=60)
        copy = cluster.get("v1", "configmaps", "podinfo-config-primary")
        assert copy is not None and copy["data"] == {"color": "green"}
        assert cluster.image("podinfo-primary") == "example.invalid/podinfo:1"


def test_an_invalid_canary_says_why_and_the_others_keep_progressing(
    cluster: Cluster, prometheus: FakePrometheus
) -> None:
    for name in ("good", "broken"):
        cluster.create("apps/v1", "deployments", deployment(name))
    # Admitted by the CRD schema, refused by the models: stepWeights must ascend.
    broken = {"interval": "1s", "threshold": 2, "stepWeights": [50, 20], "metrics": SUCCESS_RATE}
    cluster.create(CANARIES, "canaries", canary("broken", broken, prometheus.url))
    cluster.create(CANARIES, "canaries", canary("orphan", STEPS, prometheus.url))  # no such Deployment
    cluster.create(CANARIES, "canaries", canary("good", STEPS, prometheus.url))
    with running_controller(cluster.api, cluster.namespace):
        cluster.wait_phase("good", "Initialized")
        cluster.set_image("good", "example.invalid/good:2")
        cluster.wait_phase("good", "Succeeded", timeout=60)
        wait_until(
            lambda: _reason(cluster, "broken").startswith("invalid spec"), timeout=20, what="broken's reason"
        )
        assert "spec.analysis.stepWeights[1]" in _reason(cluster, "broken"), _reason(cluster, "broken")
        assert any("invalid spec" in m for m in cluster.events("broken"))
        wait_until(lambda: "not found" in _reason(cluster, "orphan"), timeout=20, what="orphan's reason")
        assert "Deployment orphan not found" in _reason(cluster, "orphan")
        assert cluster.get("apps/v1", "deployments", "broken-primary") is None


def test_revert_on_deletion_gives_the_target_back_its_replicas_and_the_apex(
    cluster: Cluster, prometheus: FakePrometheus
) -> None:
    cluster.create("apps/v1", "deployments", deployment("podinfo"))
    cluster.create(CANARIES, "canaries", canary("podinfo", STEPS, prometheus.url, revertOnDeletion=True))
    with running_controller(cluster.api, cluster.namespace):
        cluster.wait_phase("podinfo", "Initialized")
        wait_until(
            lambda: (
                "sluice.dev/finalizer"
                in (cluster.get(CANARIES, "canaries", "podinfo") or {})["metadata"].get("finalizers", [])
            ),
            timeout=20,
            what="the finalizer",
        )
        assert cluster.replicas("podinfo") == 0
        cluster.delete(CANARIES, "canaries", "podinfo")
        wait_until(
            lambda: cluster.get(CANARIES, "canaries", "podinfo") is None, timeout=60, what="the Canary to go"
        )
        assert cluster.replicas("podinfo") == 2
        apex = cluster.get("v1", "services", "podinfo")
        assert apex is not None
        assert apex["spec"]["selector"] == {"app": "podinfo"}
        assert not apex["metadata"].get("ownerReferences")
        assert cluster.get("split.smi-spec.io/v1alpha4", "trafficsplits", "podinfo") is None
        wait_until(
            lambda: cluster.get("apps/v1", "deployments", "podinfo-primary") is None,
            timeout=60,
            what="the primary to be garbage-collected",
        )


def test_daemonset_target_initializes_and_promotes(cluster: Cluster, prometheus: FakePrometheus) -> None:
    body = deployment("podinfo")
    body["kind"] = "DaemonSet"
    del body["spec"]["replicas"]
    cluster.create("apps/v1", "daemonsets", body)
    analysis = {"interval": "1s", "threshold": 2, "stepWeight": 50, "metrics": SUCCESS_RATE}
    spec = canary("podinfo", analysis, prometheus.url)
    spec["spec"]["targetRef"]["kind"] = "DaemonSet"
    cluster.create(CANARIES, "canaries", spec)
    with running_controller(cluster.api, cluster.namespace):
        cluster.wait_phase("podinfo", "Initialized")
        target = cluster.get("apps/v1", "daemonsets", "podinfo")
        assert target is not None
        assert target["spec"]["template"]["spec"]["nodeSelector"] == {"sluice.dev/scale-to-zero": "true"}
        primary = cluster.get("apps/v1", "daemonsets", "podinfo-primary")
        assert primary is not None and "nodeSelector" not in primary["spec"]["template"]["spec"]
        recorder = WeightRecorder(lambda: _canary_weight(cluster))
        cluster.patch(
            "apps/v1",
            "daemonsets",
            "podinfo",
            {"spec": {"template": {"spec": {"containers": [{"name": "app", "image": "v2"}]}}}},
        )
        cluster.wait_phase("podinfo", "Succeeded", timeout=90)
        assert recorder.stop() == [0, 50, 100, 0]
        primary = cluster.get("apps/v1", "daemonsets", "podinfo-primary")
        assert primary is not None and primary["spec"]["template"]["spec"]["containers"][0]["image"] == "v2"


def test_bootstrap_copies_ports_metadata_and_the_autoscaler(
    cluster: Cluster, prometheus: FakePrometheus
) -> None:
    body = deployment("podinfo")
    body["metadata"]["labels"]["kustomize.toolkit.fluxcd.io/name"] = "apps"
    body["spec"]["template"]["spec"]["containers"][0]["ports"].append(
        {"containerPort": 9797, "name": "metrics"}
    )
    cluster.create("apps/v1", "deployments", body)
    hpa = {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "podinfo"},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "podinfo"},
            "minReplicas": 2,
            "maxReplicas": 4,
        },
    }
    cluster.create("autoscaling/v2", "horizontalpodautoscalers", hpa)
    spec = canary(
        "podinfo",
        STEPS,
        prometheus.url,
        autoscalerRef={
            "apiVersion": "autoscaling/v2",
            "kind": "HorizontalPodAutoscaler",
            "name": "podinfo",
            "primaryScalerReplicas": {"minReplicas": 3},
        },
    )
    spec["spec"]["service"] = {
        "port": 9898,
        "targetPort": "http",
        "portDiscovery": True,
        "apex": {"labels": {"team": "web"}, "annotations": {"note": "apex"}},
    }
    cluster.create(CANARIES, "canaries", spec)
    with running_controller(cluster.api, cluster.namespace):
        cluster.wait_phase("podinfo", "Initialized")
        apex = cluster.get("v1", "services", "podinfo")
        assert apex is not None
        assert apex["metadata"]["labels"]["team"] == "web"
        assert apex["metadata"]["annotations"]["note"] == "apex"
        ports = {(p["name"], p["port"], p["targetPort"]) for p in apex["spec"]["ports"]}
        assert ports == {("http", 9898, "http"), ("metrics", 9797, 9797)}
        primary = cluster.deployment("podinfo-primary")
        assert "kustomize.toolkit.fluxcd.io/name" not in primary["metadata"]["labels"]
        clone = cluster.get("autoscaling/v2", "horizontalpodautoscalers", "podinfo-primary")
        assert clone is not None
        assert clone["spec"]["scaleTargetRef"]["name"] == "podinfo-primary"
        assert (clone["spec"]["minReplicas"], clone["spec"]["maxReplicas"]) == (3, 4)


def test_skip_analysis_promotes_at_once_and_a_target_that_never_gets_ready_fails(
    cluster: Cluster, prometheus: FakePrometheus
) -> None:
    cluster.create("apps/v1", "deployments", deployment("podinfo"))
    cluster.create(
        CANARIES,
        "canaries",
        canary("podinfo", STEPS, prometheus.url, skipAnalysis=True, progressDeadlineSeconds=3),
    )
    with running_controller(cluster.api, cluster.namespace):
        cluster.wait_phase("podinfo", "Initialized")
        recorder = WeightRecorder(lambda: _canary_weight(cluster))
        cluster.set_image("podinfo", "example.invalid/podinfo:2")
        cluster.wait_phase("podinfo", "Succeeded", timeout=60)
        assert recorder.stop() == [0]
        assert cluster.image("podinfo-primary") == "example.invalid/podinfo:2"
        # Pods that no node will take: the canary never becomes ready, the deadline fails the run.
        cluster.patch(
            "apps/v1",
            "deployments",
            "podinfo",
            {
                "spec": {
                    "template": {
                        "spec": {
                            "nodeSelector": {"sluice.test/nowhere": "true"},
                            "containers": [{"name": "app", "image": "example.invalid/potato:1"}],
                        }
                    }
                }
            },
        )
        cluster.wait_phase("podinfo", "Failed", timeout=60)
        assert cluster.image("podinfo-primary") == "example.invalid/podinfo:2"
        assert cluster.replicas("podinfo") == 0


def test_a_primary_that_cannot_roll_out_during_promotion_fails_over_to_the_canary(
    cluster: Cluster, prometheus: FakePrometheus
) -> None:
    """Scenario 18: nodes refuse new pods after the canary is up, so the promoted primary never gets ready."""
    cluster.create("apps/v1", "deployments", deployment("podinfo"))
    analysis = {"interval": "1s", "threshold": 2, "stepWeight": 25, "maxWeight": 50, "metrics": SUCCESS_RATE}
    cluster.create(
        CANARIES, "canaries", canary("podinfo", analysis, prometheus.url, progressDeadlineSeconds=8)
    )
    nodes = [n["metadata"]["name"] for n in cluster.kube.get("/api/v1/nodes")["items"]]
    taint = [{"key": "sluice.test/full", "value": "true", "effect": "NoSchedule"}]
    with running_controller(cluster.api, cluster.namespace):
        cluster.wait_phase("podinfo", "Initialized")
        cluster.set_image("podinfo", "example.invalid/podinfo:2")
        try:
            wait_until(lambda: (_canary_weight(cluster) or 0) >= 25, timeout=30, what="weight 25")
            for node in nodes:
                cluster.kube.patch(f"/api/v1/nodes/{node}", {"spec": {"taints": taint}})
            status = cluster.wait_phase("podinfo", "Failed", timeout=60)
        finally:
            for node in nodes:
                cluster.kube.patch(f"/api/v1/nodes/{node}", {"spec": {"taints": None}})
        assert status["canaryWeight"] == 100
        assert _canary_weight(cluster) == 100
        assert cluster.replicas("podinfo") == 2


def test_manual_commands_pause_resume_and_abort_a_rollout(
    cluster: Cluster, prometheus: FakePrometheus
) -> None:
    cluster.create("apps/v1", "deployments", deployment("podinfo"))
    analysis = {"interval": "1s", "threshold": 2, "stepWeight": 10, "maxWeight": 90, "metrics": SUCCESS_RATE}
    cluster.create(CANARIES, "canaries", canary("podinfo", analysis, prometheus.url))
    with running_controller(cluster.api, cluster.namespace) as controller:
        cluster.wait_phase("podinfo", "Initialized")
        cluster.set_image("podinfo", "example.invalid/podinfo:2")
        wait_until(lambda: (_canary_weight(cluster) or 0) >= 10, timeout=30, what="weight 10")
        controller.store.enqueue_command(cluster.namespace, "podinfo", "pause")
        wait_until(lambda: cluster.canary_status("podinfo").get("paused"), timeout=20, what="paused")
        controller.store.enqueue_command(cluster.namespace, "podinfo", "resume")
        wait_until(lambda: not cluster.canary_status("podinfo").get("paused"), timeout=20, what="resumed")
        controller.store.enqueue_command(cluster.namespace, "podinfo", "abort")
        cluster.wait_phase("podinfo", "Failed", timeout=30)
        assert _canary_weight(cluster) == 0
        assert (cluster.get("v1", "configmaps", "sluice-commands") or {}).get("data") in (None, {})


def test_the_status_backend_reads_a_rollout_and_promotes_it_through_the_api(
    cluster: Cluster, prometheus: FakePrometheus
) -> None:
    """What `sluice status/promote --context` reads through: the same view as local mode, from the API."""
    from controller.cli.backend import take_snapshot
    from controller.cli.kubernetes_backend import KubernetesStatusBackend
    from controller.cli.status_view import detail_record, status_table

    cluster.create("apps/v1", "deployments", deployment("podinfo"))
    analysis = {"interval": "1s", "threshold": 2, "stepWeight": 10, "maxWeight": 90, "metrics": SUCCESS_RATE}
    cluster.create(CANARIES, "canaries", canary("podinfo", analysis, prometheus.url))
    backend = KubernetesStatusBackend(cluster.api, cluster.namespace, poll_seconds=0.2)
    with running_controller(cluster.api, cluster.namespace):
        cluster.wait_phase("podinfo", "Initialized")
        before = backend.changes()
        cluster.set_image("podinfo", "example.invalid/podinfo:2")
        assert backend.wait_for_change(before, timeout=20) != before
        wait_until(lambda: (_canary_weight(cluster) or 0) >= 20, timeout=30, what="weight 20")
        snap = take_snapshot(backend, cluster.namespace, "podinfo")
        assert snap.live is not None and snap.live.canary_weight >= 20
        assert snap.target_revision == snap.canary.status.last_applied_spec  # type: ignore[union-attr]
        assert any("Advance" in e.message for e in snap.events)
        assert detail_record(snap)["name"] == "podinfo"
        assert "podinfo" in status_table(backend.list_canaries(None), snap.taken_at)
        backend.enqueue(cluster.namespace, "podinfo", "promote")
        cluster.wait_phase("podinfo", "Succeeded", timeout=60)
        assert cluster.image("podinfo-primary") == "example.invalid/podinfo:2"
