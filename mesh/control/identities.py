"""Which identity a backend's endpoints must present: the ServiceAccount of the Pods behind them.

A backend Service port with `appProtocol: mesh.sluice.dev/mtls` reaches a sluice proxy's mTLS listener in
front of the app (docs/mesh-security.md). The gateway then connects to its endpoints with its own
certificate and requires each to present `spiffe://<trust-domain>/ns/<ns>/sa/<sa>`, where `sa` is the
`spec.serviceAccountName` (default `default`) of the Pod the EndpointSlice endpoint's targetRef names, as
Linkerd's destination service tells its proxies. Ports without that appProtocol stay plain: in gateway mode
most backends are bare app pods, and nothing could answer a handshake there.

The proxy's backend holds one identity. When the Pods behind one backend run as different ServiceAccounts
(a Deployment rolling to a new `serviceAccountName`, as a promotion that changes it does), the identity of
the most ready endpoints wins, a tie going to the first in sort order, and the other endpoints get no
traffic until they are the most; this keeps the backend serving through the roll-out, where refusing the
whole backend would take the primary down at every such promotion. An endpoint whose Pod is unknown (no
targetRef, or not seen yet) gets no traffic either: an mTLS backend is never sent to unverified or in plain
text. Each of these is one line in the node's problems.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from mesh import spiffe

MTLS_APP_PROTOCOL = "mesh.sluice.dev/mtls"
Key = tuple[str, str]  # (namespace, name)


def speaks_mtls(port: Mapping[str, Any]) -> bool:
    """A Service port whose endpoints are mesh mTLS listeners."""
    return port.get("appProtocol") == MTLS_APP_PROTOCOL


def pod_identity(pod: Mapping[str, Any], trust_domain: str) -> str:
    namespace = pod["metadata"]["namespace"]
    account = (pod.get("spec") or {}).get("serviceAccountName") or "default"
    return spiffe.Identity(trust_domain, namespace, account).uri


@dataclass(frozen=True)
class BackendIdentity:
    identity: str | None  # None: no endpoint with a known Pod
    endpoints: list[str]  # the endpoints that run as `identity`, the only ones to send to
    problems: list[str] = field(default_factory=list)


def backend_identity(
    endpoints: Mapping[str, Key | None], pods: Mapping[Key, Mapping[str, Any]], trust_domain: str
) -> BackendIdentity:
    """The identity to require of an mTLS backend whose endpoints run in these Pods (see the module doc)."""
    by_identity: dict[str, list[str]] = {}
    unknown = []
    for endpoint, pod_key in sorted(endpoints.items()):
        pod = pods.get(pod_key) if pod_key is not None else None
        if pod is None:
            unknown.append(endpoint)
        else:
            by_identity.setdefault(pod_identity(pod, trust_domain), []).append(endpoint)
    problems = []
    if unknown:
        problems.append(
            f"endpoints {', '.join(unknown)} belong to no known Pod, so their identity is unknown; "
            "they get no traffic"
        )
    if not by_identity:
        return BackendIdentity(None, [], problems)
    chosen = min(by_identity, key=lambda identity: (-len(by_identity[identity]), identity))
    others = {identity: found for identity, found in sorted(by_identity.items()) if identity != chosen}
    if others:
        left_out = "; ".join(f"{identity}: {', '.join(found)}" for identity, found in others.items())
        problems.append(
            f"its Pods run as {len(by_identity)} ServiceAccounts; {chosen} has the most endpoints "
            f"and gets the traffic, the others none ({left_out})"
        )
    return BackendIdentity(chosen, by_identity[chosen], problems)
