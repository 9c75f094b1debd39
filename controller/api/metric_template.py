"""The MetricTemplate resource: a named query against a metrics provider, reusable by many canaries.

Field-compatible with Flagger's MetricTemplate. Unlike Flagger, an unknown provider type is an error
rather than a silent fallback to Prometheus, so a typo cannot point a check at the wrong backend.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from controller.api.base import API_VERSION, Model
from controller.api.meta import ObjectMeta

ProviderType = Literal[
    "prometheus",
    "datadog",
    "graphite",
    "influxdb",
    "newrelic",
    "cloudwatch",
    "dynatrace",
    "splunk",
    "stackdriver",
    "keptn",
    "externalmetrics",
]


class SecretReference(Model):
    """A Secret in the resource's namespace holding credentials (e.g. `token`, `username`/`password`)."""

    name: str


class MetricProvider(Model):
    type: ProviderType = "prometheus"
    address: str | None = None
    headers: dict[str, str] | None = None
    secret_ref: SecretReference | None = None
    region: str | None = None
    insecure_skip_verify: bool = False


class MetricTemplateSpec(Model):
    provider: MetricProvider = Field(default_factory=MetricProvider)
    # A Jinja2 template rendered with name, namespace, target, service, ingress, route, interval, variables.
    query: str


class MetricTemplate(Model):
    api_version: Literal["sluice.dev/v1beta1"] = API_VERSION
    kind: Literal["MetricTemplate"] = "MetricTemplate"
    metadata: ObjectMeta
    spec: MetricTemplateSpec
    # Written by the cluster (conditions); accepted so `kubectl get -o yaml` output loads back.
    status: dict[str, Any] | None = None
