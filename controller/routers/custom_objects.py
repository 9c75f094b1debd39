"""Get/create/update/delete of one kind of namespaced custom object, for routers that write mesh objects.

The SMI and Gateway API routers differ in what they write, not in how: a missing object is None (not an
error), an update happens only when the spec or sluice's labels changed (one write per rollout step, none
per idle tick), and a delete of something already gone is fine.
"""

from __future__ import annotations

from typing import Any

from kubernetes.client import ApiClient, CustomObjectsApi
from kubernetes.client.rest import ApiException

MANAGED_BY = {"app.kubernetes.io/managed-by": "sluice"}


class CustomObjects:
    def __init__(self, api: ApiClient, group: str, version: str, plural: str) -> None:
        self.api = CustomObjectsApi(api)
        self.group, self.version, self.plural = group, version, plural

    def get(self, namespace: str, name: str) -> dict[str, Any] | None:
        try:
            return self.api.get_namespaced_custom_object(
                self.group, self.version, namespace, self.plural, name
            )
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise

    def apply(self, desired: dict[str, Any], current: dict[str, Any] | None = None) -> None:
        """Create `desired`, or replace the spec of `current` (already read) when it differs."""
        meta = desired["metadata"]
        if current is None:
            self.api.create_namespaced_custom_object(
                self.group, self.version, meta["namespace"], self.plural, desired
            )
            return
        labels = current["metadata"].get("labels") or {}
        if current.get("spec") == desired["spec"] and all(labels.get(k) == v for k, v in MANAGED_BY.items()):
            return
        body = {**current, "spec": desired["spec"]}
        body["metadata"] = {**current["metadata"], "labels": {**labels, **MANAGED_BY}}
        self.api.replace_namespaced_custom_object(
            self.group, self.version, meta["namespace"], self.plural, meta["name"], body
        )

    def delete(self, namespace: str, name: str) -> None:
        try:
            self.api.delete_namespaced_custom_object(self.group, self.version, namespace, self.plural, name)
        except ApiException as exc:
            if exc.status != 404:
                raise
