"""The generated CRDs on the real API server: bad values are refused at admission with their field path,
and what the models accept is admitted unchanged (no defaults written into the spec)."""

from __future__ import annotations

from typing import Any

import pytest
from kubernetes.client.rest import ApiException

from controller.api.loading import parse_resource
from tests.integration.kubernetes.rollouts import Cluster, canary, cluster_fixture  # noqa: F401

GOOD = {"interval": "1s", "threshold": 2, "stepWeight": 10}


def _refused(cluster: Cluster, body: dict[str, Any], status: int = 422, **query: Any) -> str:
    with pytest.raises(ApiException) as raised:
        cluster.kube.request("POST", cluster.path("sluice.dev/v1beta1", "canaries"), query or None, body)
    assert raised.value.status == status, raised.value
    return str(raised.value.reason)


def test_bad_values_are_refused_with_their_field_path(cluster: Cluster) -> None:
    bad_step = canary("a", {**GOOD, "stepWeight": 0})
    assert "spec.analysis.stepWeight" in _refused(cluster, bad_step)
    bad_interval = canary("b", {**GOOD, "interval": "soon"})
    assert "spec.analysis.interval" in _refused(cluster, bad_interval)
    no_target = canary("c", GOOD)
    del no_target["spec"]["targetRef"]
    assert "spec.targetRef" in _refused(cluster, no_target)
    unknown = canary("d", {**GOOD, "stepWieght": 5})
    # Unknown fields are a strict-decoding error (400), as `kubectl apply` asks for by default.
    assert "stepWieght" in _refused(cluster, unknown, status=400, fieldValidation="Strict")


def test_an_admitted_canary_reads_back_as_written(cluster: Cluster) -> None:
    body = canary("podinfo", {**GOOD, "match": [{"headers": {"x-canary": {"exact": "insider"}}}]},
                  service={"port": 9898, "targetPort": "http"})  # fmt: skip
    created = cluster.create("sluice.dev/v1beta1", "canaries", body)
    assert created["spec"] == body["spec"]
    assert parse_resource(created).spec.service.target_port == "http"  # type: ignore[attr-defined]
