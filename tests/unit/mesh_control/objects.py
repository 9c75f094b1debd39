"""Builders of the Kubernetes objects the control plane reads, shaped as the apiserver returns them."""

from __future__ import annotations

import json
from typing import Any

from mesh.control.translate import Snapshot

NS = "shop"


def meta(name: str, namespace: str = NS, **extra: Any) -> dict[str, Any]:
    return {"name": name, "namespace": namespace, **extra}


def service(
    name: str,
    port: int = 80,
    target: int | str = 8080,
    port_name: str = "http",
    annotations: dict | None = None,
    cluster_ip: str = "198.19.0.10",
    namespace: str = NS,
    app_protocol: str | None = None,
) -> dict[str, Any]:
    entry: dict[str, Any] = {"name": port_name, "port": port, "targetPort": target, "protocol": "TCP"}
    if app_protocol is not None:
        entry["appProtocol"] = app_protocol
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": meta(name, namespace, annotations=annotations or {}),
        "spec": {"clusterIP": cluster_ip, "ports": [entry]},
    }


def endpoint_slice(
    service_name: str,
    addresses: list[str],
    port: int = 8080,
    port_name: str = "http",
    not_ready: tuple[str, ...] = (),
    namespace: str = NS,
    pods: dict[str, str] | None = None,  # address -> the Pod's name (the endpoint's targetRef)
) -> dict[str, Any]:
    def endpoint(address: str) -> dict[str, Any]:
        found: dict[str, Any] = {"addresses": [address], "conditions": {"ready": address not in not_ready}}
        if pods and address in pods:
            found["targetRef"] = {"kind": "Pod", "namespace": namespace, "name": pods[address]}
        return found

    return {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": meta(
            f"{service_name}-abcde", namespace, labels={"kubernetes.io/service-name": service_name}
        ),
        "addressType": "IPv4",
        "ports": [{"name": port_name, "port": port, "protocol": "TCP"}],
        "endpoints": [endpoint(address) for address in addresses],
    }


def pod(name: str, service_account: str | None = None, namespace: str = NS) -> dict[str, Any]:
    """A Pod as the control plane keeps it (mesh/control/watch.py keeps only who it runs as)."""
    spec = {} if service_account is None else {"serviceAccountName": service_account}
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta(name, namespace), "spec": spec}


def split(
    apex: str, weights: dict[str, Any], version: str = "v1alpha4", matches: list[str] = (), **annotations: str
) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "service": apex,
        "backends": [{"service": name, "weight": weight} for name, weight in weights.items()],
    }
    if matches:
        spec["matches"] = [{"kind": "HTTPRouteGroup", "name": name} for name in matches]
    return {
        "apiVersion": f"split.smi-spec.io/{version}",
        "kind": "TrafficSplit",
        "metadata": meta(apex, annotations=dict(annotations)),
        "spec": spec,
    }


def route_group(name: str, matches: list[dict[str, Any]], top_level: bool = False) -> dict[str, Any]:
    body: dict[str, Any] = {
        "apiVersion": "specs.smi-spec.io/v1alpha4",
        "kind": "HTTPRouteGroup",
        "metadata": meta(name),
    }
    if top_level:
        body["matches"] = matches
    else:
        body["spec"] = {"matches": matches}
    return body


def http_route(
    name: str,
    parent: str,
    rules: list[dict[str, Any]],
    created: str = "2026-01-01T00:00:00Z",
    port: int | None = None,
    annotations: dict | None = None,
) -> dict[str, Any]:
    ref: dict[str, Any] = {"group": "", "kind": "Service", "name": parent}
    if port is not None:
        ref["port"] = port
    return {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "HTTPRoute",
        "metadata": meta(name, creationTimestamp=created, annotations=annotations or {}),
        "spec": {"parentRefs": [ref], "rules": rules},
    }


def backend_ref(name: str, weight: int | None = None, port: int = 80) -> dict[str, Any]:
    ref: dict[str, Any] = {"group": "", "kind": "Service", "name": name, "port": port}
    if weight is not None:
        ref["weight"] = weight
    return ref


def snapshot(*objects: dict[str, Any]) -> Snapshot:
    fields = {
        "Service": "services",
        "EndpointSlice": "endpoint_slices",
        "TrafficSplit": "traffic_splits",
        "HTTPRouteGroup": "route_groups",
        "HTTPRoute": "http_routes",
        "TrafficTarget": "traffic_targets",
        "Pod": "pods",
    }
    tables: dict[str, dict] = {name: {} for name in fields.values()}
    for obj in objects:
        m = obj["metadata"]
        tables[fields[obj["kind"]]][(m["namespace"], m["name"])] = obj
    return Snapshot(**tables)


def podinfo(*extra: dict[str, Any], canary_ready: bool = True) -> Snapshot:
    """Apex podinfo (:80 -> 9898) with primary 10.0.0.1-2 and canary 10.0.0.3, plus `extra`."""
    return snapshot(
        service("podinfo", 80, 9898),
        service("podinfo-primary", 80, "http"),
        service("podinfo-canary", 80, "http"),
        endpoint_slice("podinfo-primary", ["198.18.0.1", "198.18.0.2"], 9898),
        endpoint_slice(
            "podinfo-canary", ["198.18.0.3"], 9898, not_ready=() if canary_ready else ("198.18.0.3",)
        ),
        *extra,
    )


def annotation(value: Any) -> str:
    return json.dumps(value)
