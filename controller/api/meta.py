"""The part of Kubernetes ObjectMeta sluice reads and writes."""

from __future__ import annotations

from pydantic import ConfigDict

from controller.api.base import Model


class ObjectMeta(Model):
    # Server-set fields (uid, creationTimestamp, managedFields, ...) are kept, not rejected.
    model_config = ConfigDict(extra="allow")

    name: str
    namespace: str = "default"
    labels: dict[str, str] | None = None
    annotations: dict[str, str] | None = None
    resource_version: str | None = None
    generation: int | None = None
    finalizers: list[str] | None = None
