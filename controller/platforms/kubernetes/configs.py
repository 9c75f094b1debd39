"""ConfigMaps and Secrets a pod template uses, tracked like Flagger does: the primary runs `-primary` copies.

A change to a tracked ConfigMap or Secret alone is a new revision (its checksum is part of the target's
revision) and promotion copies its data to `<name>-primary`, so the primary never sees a config that
was not analysed. References are found in env valueFrom, envFrom, volumes and projected volumes of every
container and init container. A config annotated `sluice.dev/config-tracking: disabled` (or Flagger's
`flagger.app/config-tracking: disabled`) is shared as is, not copied.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from typing import Any

from controller.platforms.kubernetes.client import KubeClient, resource_path
from controller.platforms.kubernetes.revision import config_checksum

TRACKING_ANNOTATIONS = ("sluice.dev/config-tracking", "flagger.app/config-tracking")
PLURALS = {"ConfigMap": "configmaps", "Secret": "secrets"}

# (kind, the dict holding the name, the key of the name)
Ref = tuple[str, dict[str, Any], str]


def _refs(pod_spec: dict[str, Any]) -> Iterator[Ref]:
    for container in (pod_spec.get("containers") or []) + (pod_spec.get("initContainers") or []):
        for env in container.get("env") or []:
            source = env.get("valueFrom") or {}
            if "configMapKeyRef" in source:
                yield "ConfigMap", source["configMapKeyRef"], "name"
            if "secretKeyRef" in source:
                yield "Secret", source["secretKeyRef"], "name"
        for env_from in container.get("envFrom") or []:
            if "configMapRef" in env_from:
                yield "ConfigMap", env_from["configMapRef"], "name"
            if "secretRef" in env_from:
                yield "Secret", env_from["secretRef"], "name"
    for volume in pod_spec.get("volumes") or []:
        if "configMap" in volume:
            yield "ConfigMap", volume["configMap"], "name"
        if "secret" in volume:
            yield "Secret", volume["secret"], "secretName"
        for source in (volume.get("projected") or {}).get("sources") or []:
            if "configMap" in source:
                yield "ConfigMap", source["configMap"], "name"
            if "secret" in source:
                yield "Secret", source["secret"], "name"


def referenced(pod_spec: dict[str, Any]) -> set[tuple[str, str]]:
    return {(kind, holder[key]) for kind, holder, key in _refs(pod_spec) if holder.get(key)}


def renamed(pod_spec: dict[str, Any], rename: Callable[[str, str], str]) -> dict[str, Any]:
    """A copy of `pod_spec` with every config reference passed through `rename(kind, name)`."""
    result = copy.deepcopy(pod_spec)
    for kind, holder, key in _refs(result):
        if holder.get(key):
            holder[key] = rename(kind, holder[key])
    return result


def tracked(config: dict[str, Any]) -> bool:
    annotations = config["metadata"].get("annotations") or {}
    return not any(annotations.get(key) == "disabled" for key in TRACKING_ANNOTATIONS)


class ConfigTracker:
    def __init__(self, kube: KubeClient, enabled: bool = True) -> None:
        self.kube = kube
        self.enabled = enabled

    def configs(self, namespace: str, pod_spec: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
        """The tracked configs the pod spec references and that exist, by (kind, name)."""
        if not self.enabled:
            return {}
        found = {}
        for kind, name in sorted(referenced(pod_spec)):
            config = self.kube.get_or_none(resource_path("v1", PLURALS[kind], namespace, name))
            if config is not None and tracked(config):
                found[(kind, name)] = config
        return found

    def checksums(self, namespace: str, pod_spec: dict[str, Any]) -> dict[str, str]:
        return {
            f"{kind}/{name}": config_checksum(config)
            for (kind, name), config in self.configs(namespace, pod_spec).items()
        }

    def copy_to_primary(self, namespace: str, pod_spec: dict[str, Any],
                        owner: list[dict[str, Any]]) -> dict[str, Any]:
        """Write `<name>-primary` copies of the tracked configs; return the pod spec that uses them."""
        configs = self.configs(namespace, pod_spec)
        for (kind, name), config in configs.items():
            body = {
                "apiVersion": "v1",
                "kind": kind,
                "metadata": {
                    "name": f"{name}-primary",
                    "namespace": namespace,
                    "labels": config["metadata"].get("labels") or {},
                    "ownerReferences": owner,
                },
                **{k: config[k] for k in ("data", "binaryData", "type", "immutable") if k in config},
            }
            path = resource_path("v1", PLURALS[kind], namespace)
            current = self.kube.get_or_none(f"{path}/{name}-primary")
            if current is None:
                self.kube.create(path, body)
            elif any(current.get(k) != body.get(k) for k in ("data", "binaryData")):
                body["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"]
                self.kube.replace(f"{path}/{name}-primary", body)
        return renamed(pod_spec, lambda kind, name: f"{name}-primary" if (kind, name) in configs else name)
