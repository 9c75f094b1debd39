"""`sluice status`, `wait` and `promote` with `--kubeconfig`: the same CLI as local mode, against the
real API server (issue 5, item 5). Each command runs as a real `sluice` process."""

from __future__ import annotations

import subprocess
import sys

from tests.harness.poll import wait_until
from tests.integration.kubernetes.rollouts import (  # noqa: F401
    SUCCESS_RATE,
    Cluster,
    FakePrometheus,
    canary,
    cluster_fixture,
    deployment,
    prometheus_fixture,
    running_controller,
)


def sluice(*args: str, timeout: float = 90) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "controller.cli.main", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_status_wait_and_promote_through_a_kubeconfig(
    cluster: Cluster, prometheus: FakePrometheus, k8s_kubeconfig: str
) -> None:
    where = ["--kubeconfig", str(k8s_kubeconfig), "-n", cluster.namespace]
    gate = {"name": "approval", "type": "confirm-promotion", "url": "http://127.0.0.1:9/gate/check"}
    analysis = {
        "interval": "1s",
        "threshold": 2,
        "stepWeight": 50,
        "maxWeight": 50,
        "metrics": SUCCESS_RATE,
        "webhooks": [gate],
    }
    cluster.create("apps/v1", "deployments", deployment("podinfo"))
    cluster.create("sluice.dev/v1beta1", "canaries", canary("podinfo", analysis, prometheus.url))
    with running_controller(cluster.api, cluster.namespace):
        waited = sluice("wait", "podinfo", "--for", "phase=Initialized", "--timeout", "60s", *where)
        assert waited.returncode == 0, waited.stdout + waited.stderr

        table = sluice("status", *where)
        assert table.returncode == 0, table.stderr
        row = next(line for line in table.stdout.splitlines() if line.startswith("podinfo"))
        assert "Initialized" in row and "0/100" in row

        cluster.set_image("podinfo", "example.invalid/podinfo:2")
        # Nobody answers the confirm-promotion gate (port 9 is closed), so the rollout waits for approval.
        cluster.wait_phase("podinfo", "WaitingPromotion", timeout=60)
        watched = sluice("status", "podinfo", "--watch", "--timeout", "60s", *where)
        assert watched.returncode == 2, watched.stdout + watched.stderr

        promoted = sluice("promote", "podinfo", *where)
        assert promoted.returncode == 0, promoted.stderr
        waited = sluice("wait", "podinfo", "--for", "promoted", "--timeout", "60s", *where)
        assert waited.returncode == 0, waited.stdout + waited.stderr
        assert cluster.canary_status("podinfo")["phase"] == "Succeeded"

        detail = sluice("status", "podinfo", *where)
        assert detail.returncode == 0 and "Succeeded" in detail.stdout, detail.stdout + detail.stderr
        wait_until(lambda: cluster.image("podinfo-primary") == "example.invalid/podinfo:2", timeout=10)
