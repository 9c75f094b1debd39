"""The part of Kubernetes ObjectMeta sluice reads and writes.

Names follow Kubernetes' rules even in local mode, so a manifest that works locally also applies to a
cluster, and names can safely become service, process and file names.
"""

from __future__ import annotations

import re

from pydantic import ConfigDict, field_validator

from controller.api.base import Model

_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")


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

    @field_validator("name")
    @classmethod
    def _dns_subdomain(cls, name: str) -> str:
        if len(name) > 253 or not _SUBDOMAIN.fullmatch(name):
            raise ValueError(
                f"must be lowercase letters, digits, '-' or '.', starting and ending with a letter or digit, "
                f"at most 253 characters (got {name!r})"
            )
        return name

    @field_validator("namespace")
    @classmethod
    def _dns_label(cls, namespace: str) -> str:
        if len(namespace) > 63 or not _LABEL.fullmatch(namespace):
            raise ValueError(
                f"must be lowercase letters, digits or '-', starting and ending with a letter or digit, "
                f"at most 63 characters (got {namespace!r})"
            )
        return namespace
