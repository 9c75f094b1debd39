"""A MetricTemplate whose provider credentials come from a Secret (`secretRef`): the controller reads the
Secret through the API and sends its token to the metrics server (issue 7, item 1)."""

from __future__ import annotations

import base64

from tests.integration.kubernetes.rollouts import (  # noqa: F401
    Cluster,
    FakePrometheus,
    canary,
    cluster_fixture,
    deployment,
    prometheus_fixture,
    running_controller,
)


def test_a_template_authenticates_with_the_token_of_its_secret(
    cluster: Cluster, prometheus: FakePrometheus
) -> None:
    token = base64.b64encode(b"s3cret-token").decode()
    cluster.create(
        "v1",
        "secrets",
        {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "prom-auth"}, "data": {"token": token}},
    )
    template = {
        "apiVersion": "sluice.dev/v1beta1",
        "kind": "MetricTemplate",
        "metadata": {"name": "error-rate"},
        "spec": {
            "provider": {"type": "prometheus", "address": prometheus.url, "secretRef": {"name": "prom-auth"}},
            "query": 'sum(rate(http_requests_total{namespace="{{ namespace }}", status=~"5.."}'
            "[{{ interval }}]))",
        },
    }
    cluster.create("sluice.dev/v1beta1", "metrictemplates", template)
    prometheus.value = 0.0
    metrics = [
        {
            "name": "errors",
            "templateRef": {"name": "error-rate"},
            "thresholdRange": {"max": 1},
            "interval": "1m",
        }
    ]
    analysis = {"interval": "1s", "threshold": 2, "stepWeight": 50, "maxWeight": 50, "metrics": metrics}
    cluster.create("apps/v1", "deployments", deployment("podinfo"))
    cluster.create("sluice.dev/v1beta1", "canaries", canary("podinfo", analysis))
    with running_controller(cluster.api, cluster.namespace):
        cluster.wait_phase("podinfo", "Initialized")
        cluster.set_image("podinfo", "example.invalid/podinfo:2")
        cluster.wait_phase("podinfo", "Succeeded", timeout=60)
    templated = [a for q, a in zip(prometheus.queries, prometheus.authorizations, strict=True) if "5.." in q]
    assert templated, "the template's query never reached the metrics server"
    assert set(templated) == {"Bearer s3cret-token"}
