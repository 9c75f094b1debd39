"""References from a Canary to other objects: its target, autoscaler, ingress, route, upstream, templates."""

from __future__ import annotations

from pydantic import field_validator

from controller.api.base import Model
from controller.api.ranges import Positive

TARGET_KINDS = ("Deployment", "DaemonSet", "Service", "Workload")
AUTOSCALER_KINDS = ("HorizontalPodAutoscaler", "ScaledObject")


def one_of(value: str, allowed: tuple[str, ...]) -> str:
    """`value`, or ValueError listing what is allowed."""
    if value not in allowed:
        raise ValueError(f"must be one of {', '.join(allowed)} (got {value!r})")
    return value


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
    min_replicas: Positive | None = None
    max_replicas: Positive | None = None


class AutoscalerReference(Model):
    api_version: str | None = None
    kind: str
    name: str
    primary_scaler_queries: dict[str, str] | None = None
    primary_scaler_replicas: ScalerReplicas | None = None

    @field_validator("kind")
    @classmethod
    def _known_kind(cls, kind: str) -> str:
        return one_of(kind, AUTOSCALER_KINDS)


