"""The three Services of a canary: `<apex>-primary`, `<apex>-canary` and the apex `<apex>` itself.

`-primary` selects the primary's pods (`<label>=<value>-primary`), `-canary` the target's
(`<label>=<value>`). The apex is what clients call. An apex that already exists (the user's own Service in
front of the target) is adopted without downtime: it is left alone until the primary is ready, and only
then its selector moves to the primary's pods; the target is scaled to zero after that (the engine orders
it so). The apex selector is only corrected when it selects neither side, because provider `kubernetes`
switches it to the canary for blue/green and must not be undone by the next reconcile.
"""

from __future__ import annotations

from typing import Any

from controller.api.canary import Canary
from controller.platforms.kubernetes.client import KubeClient, resource_path

SIDECARS = ("istio-proxy", "envoy", "linkerd-proxy", "sluice-proxy")
# Provider `sluice` (the bundled mesh in gateway mode): the apex selects the namespace's gateway pods, which
# route by Host and port to the primary and canary endpoints (docs/mesh.md).
GATEWAY_SELECTOR = {"app": "sluice-proxy"}


def meshed(canary: Canary, default_provider: str) -> bool:
    return (canary.spec.provider or default_provider).split(":")[0] == "sluice"


def apex_selector(canary: Canary, default_provider: str, label: str, value: str) -> dict[str, str]:
    """Who serves the apex: the gateway for a meshed canary, else the primary's pods."""
    return dict(GATEWAY_SELECTOR) if meshed(canary, default_provider) else {label: f"{value}-primary"}


def ports(canary: Canary, template: dict[str, Any]) -> list[dict[str, Any]]:
    service = canary.spec.service
    main: dict[str, Any] = {
        "name": service.port_name or "http",
        "port": service.port,
        "targetPort": service.target_port or service.port,
        "protocol": "TCP",
    }
    if service.app_protocol:
        main["appProtocol"] = service.app_protocol
    result = [main]
    if service.port_discovery:
        for container in template["spec"].get("containers") or []:
            if container.get("name") in SIDECARS:
                continue
            for port in container.get("ports") or []:
                number = port["containerPort"]
                if number in (service.port, main["targetPort"]) or port.get("name") == main["targetPort"]:
                    continue
                name = port.get("name") or f"tcp-{number}"
                result.append({"name": name, "port": number, "targetPort": number, "protocol": "TCP"})
    return result


def service_body(canary: Canary, name: str, selector: dict[str, str], service_ports: list[dict[str, Any]],
                 extra: dict[str, Any] | None, owner: list[dict[str, Any]]) -> dict[str, Any]:
    spec: dict[str, Any] = {"type": "ClusterIP", "selector": selector, "ports": service_ports}
    if canary.spec.service.headless:
        spec["clusterIP"] = "None"
    if canary.spec.service.traffic_distribution:
        spec["trafficDistribution"] = canary.spec.service.traffic_distribution
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {
            "name": name,
            "namespace": canary.metadata.namespace,
            "labels": {**((extra or {}).get("labels") or {}), "app.kubernetes.io/managed-by": "sluice"},
            "annotations": dict((extra or {}).get("annotations") or {}),
            "ownerReferences": owner,
        },
        "spec": spec,
    }


def _differs(current: dict[str, Any], desired: dict[str, Any]) -> bool:
    spec, meta = current["spec"], current["metadata"]
    if spec.get("selector") != desired["spec"]["selector"]:
        return True
    live, wanted = spec.get("ports") or [], desired["spec"]["ports"]
    if len(live) != len(wanted):
        return True
    if any({k: p.get(k) for k in q} != q for p, q in zip(live, wanted, strict=True)):
        return True
    labels, annotations = meta.get("labels") or {}, meta.get("annotations") or {}
    return any(labels.get(k) != v for k, v in desired["metadata"]["labels"].items()) or any(
        annotations.get(k) != v for k, v in desired["metadata"]["annotations"].items()
    )


class Services:
    def __init__(self, kube: KubeClient, default_provider: str = "smi:v1alpha4") -> None:
        self.kube = kube
        self.default_provider = default_provider

    def reconcile_sides(self, canary: Canary, label: str, value: str, template: dict[str, Any],
                        owner: list[dict[str, Any]]) -> None:
        apex = canary.spec.apex_name()
        service_ports = ports(canary, template)
        for side, selected in (("primary", f"{value}-primary"), ("canary", value)):
            extra = getattr(canary.spec.service, side)
            body = service_body(canary, f"{apex}-{side}", {label: selected}, service_ports, extra, owner)
            self._apply(body)

    def reconcile_apex(self, canary: Canary, label: str, value: str, template: dict[str, Any],
                       owner: list[dict[str, Any]]) -> None:
        """Create or adopt the apex; call only once the primary is ready."""
        apex = canary.spec.apex_name()
        selector = apex_selector(canary, self.default_provider, label, value)
        apex_ports = ports(canary, template)
        if meshed(canary, self.default_provider) and isinstance(apex_ports[0]["targetPort"], str):
            apex_ports[0]["targetPort"] = canary.spec.service.port  # the gateway listens on a number
        desired = service_body(canary, apex, selector, apex_ports, canary.spec.service.apex, owner)
        current = self.kube.get_or_none(self._path(canary, apex))
        if current is not None and self._switched_to_canary(canary, current, {label: value}):
            desired["spec"]["selector"] = {label: value}
        if current is not None and current["metadata"].get("ownerReferences") is None:
            desired["metadata"]["ownerReferences"] = []  # adopted: the user's Service outlives the Canary
        self._apply(desired, current)

    def point_apex_at(self, canary: Canary, selector: dict[str, str]) -> None:
        """Hand the apex to `selector`'s pods (revertOnDeletion) and let it outlive the Canary."""
        apex = canary.spec.apex_name()
        self.kube.patch(self._path(canary, apex), {"metadata": {"ownerReferences": None}})
        current = self.kube.get(self._path(canary, apex))
        if current["spec"].get("selector") != selector:
            current["spec"]["selector"] = selector
            self.kube.replace(self._path(canary, apex), current)

    def _switched_to_canary(self, canary: Canary, current: dict[str, Any], selector: dict[str, str]) -> bool:
        """Provider kubernetes moved an apex sluice already manages to the canary (blue/green); keep that.

        A user's apex selecting the target before adoption looks the same but is not yet labelled."""
        labels = current["metadata"].get("labels") or {}
        return (
            canary.spec.provider == "kubernetes"
            and labels.get("app.kubernetes.io/managed-by") == "sluice"
            and (current["spec"].get("selector") or {}) == selector
        )

    def _apply(self, desired: dict[str, Any], current: dict[str, Any] | None = None) -> None:
        name, ns = desired["metadata"]["name"], desired["metadata"]["namespace"]
        path = resource_path("v1", "services", ns, name)
        current = current if current is not None else self.kube.get_or_none(path)
        if current is None:
            self.kube.create(resource_path("v1", "services", ns), desired)
            return
        if not _differs(current, desired):
            return
        body = dict(current)
        meta = dict(current["metadata"])
        meta["labels"] = {**(meta.get("labels") or {}), **desired["metadata"]["labels"]}
        meta["annotations"] = {**(meta.get("annotations") or {}), **desired["metadata"]["annotations"]}
        if desired["metadata"]["ownerReferences"]:
            meta["ownerReferences"] = desired["metadata"]["ownerReferences"]
        body["metadata"] = meta
        body["spec"] = {**current["spec"], **{k: v for k, v in desired["spec"].items() if k != "type"}}
        self.kube.replace(path, body)

    def _path(self, canary: Canary, name: str) -> str:
        return resource_path("v1", "services", canary.metadata.namespace, name)
