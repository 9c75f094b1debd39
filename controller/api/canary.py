"""The Canary resource (`sluice.dev/v1beta1`), field-compatible with Flagger's `flagger.app/v1beta1`.

Field names and defaults follow Flagger (see docs/crd-reference.md); sluice extensions are optional and
additive. Python attributes are snake_case; the wire form is camelCase.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from controller.api.base import API_VERSION, Model
from controller.api.durations import Duration, parse_duration
from controller.api.meta import ObjectMeta
from controller.api.status import CanaryStatus

Strategy = Literal["canary", "ab", "bluegreen"]
HookType = Literal[
    "confirm-rollout",
    "pre-rollout",
    "rollout",
    "confirm-traffic-increase",
    "confirm-promotion",
    "post-rollout",
    "rollback",
    "event",
]
Severity = Literal["info", "warn", "error"]


class LocalObjectReference(Model):
    api_version: str | None = None
    kind: str | None = None
    name: str


class CrossNamespaceObjectReference(Model):
    api_version: str | None = None
    kind: str | None = None
    name: str
    namespace: str | None = None


class ScalerReplicas(Model):
    min_replicas: int | None = None
    max_replicas: int | None = None


class AutoscalerRefernce(Model):
    api_version: str | None = None
    kind: str
    name: str
    primary_scaler_queries: dict[str, str] | None = None
    primary_scaler_replicas: ScalerReplicas | None = None


class StringMatch(Model):
    exact: str | None = None
    prefix: str | None = None
    suffix: str | None = None
    regex: str | None = None


class HTTPMatchRequest(Model):
    """One A/B match (Istio HTTPMatchRequest subset). Several entries are OR-ed; fields in one are AND-ed."""

    name: str | None = None
    uri: StringMatch | None = None
    scheme: StringMatch | None = None
    method: StringMatch | None = None
    authority: StringMatch | None = None
    headers: dict[str, StringMatch] | None = None
    query_params: dict[str, StringMatch] | None = None
    port: int | None = None
    source_labels: dict[str, str] | None = None
    source_namespace: str | None = None
    gateways: list[str] | None = None
    ignore_uri_case: bool | None = None
    without_headers: dict[str, StringMatch] | None = None


class SessionAffinity(Model):
    cookie_name: str
    max_age: int = 86400
    primary_cookie_name: str | None = None
    domain: str | None = None
    http_only: bool | None = None
    partitioned: bool | None = None
    path: str | None = None
    same_site: str | None = None
    secure: bool | None = None


class ThresholdRange(Model):
    min: float | None = None
    max: float | None = None


class CanaryMetric(Model):
    name: str
    interval: Duration | None = None
    threshold: float | None = None
    threshold_range: ThresholdRange | None = None
    query: str | None = None
    template_ref: CrossNamespaceObjectReference | None = None
    template_variables: dict[str, str] | None = None
    # sluice: the canary must have seen at least this many requests in the window to be judged.
    min_requests: int | None = None


class CanaryWebhook(Model):
    name: str
    type: HookType | None = None
    url: str
    timeout: Duration | None = None
    retries: int | None = None
    metadata: dict[str, str] | None = None
    mute_alert: bool = False
    disable_tls: bool = Field(default=False, alias="disableTLS")


class CanaryAlertProviderRef(Model):
    name: str
    namespace: str | None = None


class CanaryAlert(Model):
    name: str
    severity: Severity = "info"
    provider_ref: CanaryAlertProviderRef


class CanaryAnalysis(Model):
    interval: Duration = "60s"
    threshold: int = 0
    max_weight: int | None = None
    step_weight: int = 0
    step_weights: list[int] | None = None
    step_weight_promotion: int = 0
    iterations: int = 0
    mirror: bool = False
    mirror_weight: int | None = None
    match: list[HTTPMatchRequest] | None = None
    session_affinity: SessionAffinity | None = None
    primary_ready_threshold: int | None = None
    canary_ready_threshold: int | None = None
    metrics: list[CanaryMetric] | None = None
    webhooks: list[CanaryWebhook] | None = None
    alerts: list[CanaryAlert] | None = None
    # sluice: name the strategy instead of deriving it from iterations/match.
    strategy: Strategy | None = None

    def interval_seconds(self) -> float:
        """Tick period; Flagger clamps anything below 10s to 10s (sluice allows 1s for local demos)."""
        return max(parse_duration(self.interval), 1.0)

    def failed_checks_threshold(self) -> int:
        return self.threshold if self.threshold > 0 else 1

    def effective_max_weight(self) -> int:
        if self.max_weight:
            return min(self.max_weight, 100)
        if self.step_weights:
            return min(self.step_weights[-1], 100)
        return 100

    def effective_strategy(self) -> Strategy:
        if self.strategy:
            return self.strategy
        if self.iterations > 0:
            return "ab" if self.match else "bluegreen"
        return "canary"


class CanaryService(Model):
    name: str | None = None
    port: int
    port_name: str | None = None
    target_port: int | str | None = None
    app_protocol: str | None = None
    port_discovery: bool = False
    headless: bool = False
    traffic_distribution: str | None = None
    timeout: str | None = None
    backend_timeout: str | None = None
    retries: dict[str, Any] | None = None
    headers: dict[str, Any] | None = None
    cors_policy: dict[str, Any] | None = None
    rewrite: dict[str, Any] | None = None
    match: list[HTTPMatchRequest] | None = None
    gateways: list[str] | None = None
    hosts: list[str] | None = None
    delegation: bool | None = None
    traffic_policy: dict[str, Any] | None = None
    gateway_refs: list[dict[str, Any]] | None = None
    mirror: list[dict[str, Any]] | None = None
    mesh_name: str | None = None
    backends: list[str] | None = None
    apex: dict[str, Any] | None = None
    primary: dict[str, Any] | None = None
    canary: dict[str, Any] | None = None
    unmanaged_metadata: dict[str, Any] | None = None


class CanarySpec(Model):
    provider: str | None = None
    metrics_server: str | None = None
    target_ref: LocalObjectReference
    autoscaler_ref: AutoscalerRefernce | None = None
    ingress_ref: LocalObjectReference | None = None
    route_ref: LocalObjectReference | None = None
    upstream_ref: CrossNamespaceObjectReference | None = None
    service: CanaryService
    analysis: CanaryAnalysis | None = None
    canary_analysis: CanaryAnalysis | None = None
    progress_deadline_seconds: int = 600
    skip_analysis: bool = False
    revert_on_deletion: bool = False
    suspend: bool = False

    def get_analysis(self) -> CanaryAnalysis:
        """`analysis`, or its deprecated alias `canaryAnalysis`, or defaults."""
        return self.analysis or self.canary_analysis or CanaryAnalysis()

    def apex_name(self) -> str:
        return self.service.name or self.target_ref.name


class Canary(Model):
    api_version: Literal["sluice.dev/v1beta1"] = API_VERSION
    kind: Literal["Canary"] = "Canary"
    metadata: ObjectMeta
    spec: CanarySpec
    status: CanaryStatus | None = None
