"""Where a Service's traffic really goes: ready EndpointSlice addresses on the right target port.

The gateway routes straight to pod addresses, not to ClusterIPs, so that the weights it draws are the
weights that happen (kube-proxy would spread each backend's share again over the pods, which is fine, but
adds a hop and hides which pod answered). A Service port is found on the backend by number (SMI: the apex
port must exist on every backend, targetPort mapped per backend), then by the port's name in the
EndpointSlices, which carry the resolved container port.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

SERVICE_NAME_LABEL = "kubernetes.io/service-name"
Key = tuple[str, str]  # (namespace, name)


def service_port(service: dict[str, Any], port: int) -> dict[str, Any] | None:
    for entry in (service.get("spec") or {}).get("ports") or []:
        if entry.get("port") == port and entry.get("protocol", "TCP") == "TCP":
            return entry
    return None


def listen_port(port: dict[str, Any]) -> int:
    """The port the gateway listens on for a Service port: the apex's numeric targetPort, else its port.

    In gateway mode the apex selects the sluice-proxy pods, so connections arrive on the targetPort.
    """
    target = port.get("targetPort")
    return target if isinstance(target, int) else int(port["port"])


def hosts_of(service: dict[str, Any], cluster_domain: str) -> list[str]:
    meta = service["metadata"]
    name, namespace = meta["name"], meta["namespace"]
    svc = f"{name}.{namespace}.svc"
    hosts = [name, f"{name}.{namespace}", svc, f"{svc}.{cluster_domain}"]
    cluster_ip = (service.get("spec") or {}).get("clusterIP")
    if cluster_ip and cluster_ip != "None":
        hosts.append(cluster_ip)
    return hosts


def _ready(endpoint: dict[str, Any]) -> bool:
    conditions = endpoint.get("conditions") or {}
    return conditions.get("ready") is not False and conditions.get("terminating") is not True


def _address(address: str) -> str:
    return f"[{address}]" if ":" in address else address


def endpoint_pods(
    service: dict[str, Any], port: int, slices: Iterable[dict[str, Any]]
) -> dict[str, Key | None] | None:
    """`HOST:PORT` of each ready endpoint of `service` for Service port `port`, with the (namespace, name)
    of the Pod behind it (the endpoint's targetRef; None without one). None: the Service has no such port."""
    entry = service_port(service, port)
    if entry is None:
        return None
    name = entry.get("name") or ""
    target = entry.get("targetPort")
    found: dict[str, Key | None] = {}
    for endpoint_slice in slices:
        if endpoint_slice.get("addressType", "IPv4") not in ("IPv4", "IPv6"):
            continue
        numbers = [
            p.get("port")
            for p in endpoint_slice.get("ports") or []
            if (p.get("name") or "") == name and p.get("protocol", "TCP") == "TCP" and p.get("port")
        ]
        if not numbers and isinstance(target, int) and not endpoint_slice.get("ports"):
            numbers = [target]
        slice_namespace = (endpoint_slice.get("metadata") or {}).get("namespace", "")
        for endpoint in endpoint_slice.get("endpoints") or []:
            if not _ready(endpoint):
                continue
            ref = endpoint.get("targetRef") or {}
            pod = (ref.get("namespace") or slice_namespace, ref["name"]) if ref.get("kind") == "Pod" else None
            for address in endpoint.get("addresses") or []:
                found.update((f"{_address(address)}:{number}", pod) for number in numbers)
    return dict(sorted(found.items()))


def endpoints_of(service: dict[str, Any], port: int, slices: Iterable[dict[str, Any]]) -> list[str] | None:
    """`HOST:PORT` of the ready endpoints of `service` for Service port `port`; None: no such port."""
    found = endpoint_pods(service, port, slices)
    return None if found is None else list(found)


def slices_by_service(slices: Iterable[dict[str, Any]]) -> dict[tuple[str, str], list[dict[str, Any]]]:
    index: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for endpoint_slice in slices:
        meta = endpoint_slice.get("metadata") or {}
        owner = (meta.get("labels") or {}).get(SERVICE_NAME_LABEL)
        if owner:
            index.setdefault((meta.get("namespace", ""), owner), []).append(endpoint_slice)
    return index
