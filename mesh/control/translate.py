"""Kubernetes objects -> the config of one gateway proxy: a pure function, table-tested without a cluster.

A gateway proxy serves one namespace (the apex Services of its meshed canaries select it). For every apex
Service with a TrafficSplit or an attached HTTPRoute (the HTTPRoute wins when both exist: it is the native
model) and each of its TCP ports, the proxy gets one service entry: it listens on the port the apex's
connections arrive on, recognises the Service's DNS names and ClusterIP as Hosts, and sends each request
straight to the ready EndpointSlice addresses of the chosen backend. Anything that cannot be served is
left out and reported in `problems`, one line each; one broken object never takes others down.

A backend port marked `appProtocol: mesh.sluice.dev/mtls` gets the `identity` its endpoints must present,
from the ServiceAccount of the Pods behind them (mesh/control/identities.py); only a proxy that has a
`tls` section of its own (it says so when it polls) can be sent such a backend.

TrafficTargets of the namespace become the proxy's `traffic_targets` (mesh/control/access.py); the proxy
enforces them on its mTLS listeners. The document sent holds only what the control plane owns (services,
traffic_targets, tracing when configured); the proxy keeps its own local settings (tls, access log).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from mesh import spiffe
from mesh.control.access import traffic_target
from mesh.control.annotations import resilience_of
from mesh.control.endpoints import endpoint_pods, hosts_of, listen_port, service_port, slices_by_service
from mesh.control.gamma import attaches_to, route_plan
from mesh.control.identities import MTLS_APP_PROTOCOL, backend_identity, speaks_mtls
from mesh.control.plan import Plan
from mesh.control.smi import split_plan
from mesh.proxy.config import ConfigError, ProxyConfig, parse_config

Key = tuple[str, str]  # (namespace, name)
Objects = Mapping[Key, dict[str, Any]]
UNROUTED = "unrouted"  # placeholder backend of a default route that only answers with a fault
# Stands in for the node's own `tls` section, which the control plane neither owns nor sends, when entries
# that need one (backends with an identity) are validated for a node that has it.
NODE_TLS = {"issuer": {"url": "http://the-node-s-own-tls-section"}}


@dataclass(frozen=True)
class Snapshot:
    services: Objects = field(default_factory=dict)
    endpoint_slices: Objects = field(default_factory=dict)
    traffic_splits: Objects = field(default_factory=dict)
    route_groups: Objects = field(default_factory=dict)
    http_routes: Objects = field(default_factory=dict)
    traffic_targets: Objects = field(default_factory=dict)
    pods: Objects = field(default_factory=dict)  # trimmed to name, namespace, serviceAccountName (watch.py)


@dataclass(frozen=True)
class Node:
    """Who asks: a gateway proxy of `namespace` listening on `address`, with or without mTLS of its own."""

    namespace: str
    address: str = "0.0.0.0"
    cluster_domain: str = "cluster.local"
    trust_domain: str = spiffe.DEFAULT_TRUST_DOMAIN
    mtls: bool = False  # the proxy has a `tls` section: it can connect to mTLS backends


@dataclass
class NodeConfig:
    config: ProxyConfig  # validated, defaults filled in
    owned: dict[str, Any]  # the keys the control plane owns, as sent
    problems: list[str]

    def document(self) -> dict[str, Any]:
        """What the control plane sends: its part of the config, and what it could not route."""
        return {"config": self.owned, "problems": self.problems}


def _in(objects: Objects, namespace: str) -> list[dict[str, Any]]:
    return [obj for (ns, _), obj in sorted(objects.items()) if ns == namespace]


def _age(obj: dict[str, Any]) -> tuple[str, str]:
    meta = obj["metadata"]
    return meta.get("creationTimestamp") or "", meta["name"]


def plans(
    snapshot: Snapshot, namespace: str, groups: dict[str, dict[str, Any]], problems: list[str]
) -> list[Plan]:
    """One Plan per apex Service of the namespace, HTTPRoutes first, then TrafficSplits for other apexes."""
    attached: dict[tuple[str, int | None], list[dict[str, Any]]] = {}
    for route in sorted(_in(snapshot.http_routes, namespace), key=_age):
        for target in attaches_to(route):
            attached.setdefault(target, []).append(route)
    result = []
    for (apex, port), routes in sorted(attached.items(), key=lambda item: (item[0][0], item[0][1] or 0)):
        plan = route_plan(apex, routes, port, problems)
        if plan is not None:
            result.append(plan)
    routed = {plan.apex for plan in result}
    for split in sorted(_in(snapshot.traffic_splits, namespace), key=_age):
        plan = split_plan(split, groups, problems)
        if plan is None:
            continue
        if plan.apex in routed:
            problems.append(f"{plan.kind_name}: {plan.apex} is already routed (HTTPRoute or older split)")
            continue
        routed.add(plan.apex)
        result.append(plan)
    return result


def _without(split: dict[str, int], unusable: set[str]) -> dict[str, int]:
    return {name: (0 if name in unusable else weight) for name, weight in split.items()}


def _backend(
    plan: Plan,
    name: str,
    number: int,
    snapshot: Snapshot,
    node: Node,
    slices: dict[Key, list[dict[str, Any]]],
    problems: list[str],
) -> dict[str, Any] | None:
    """The proxy backend for port `number` of Service `name`; None (reported) when it can get no traffic."""
    service = snapshot.services.get((node.namespace, name))
    port = None if service is None else service_port(service, number)
    if service is None or port is None:
        what = "not found" if service is None else f"has no port {number}"
        problems.append(f"{plan.kind_name}: backend Service {name} {what}; it gets no traffic")
        return None
    found = endpoint_pods(service, number, slices.get((node.namespace, name), [])) or {}
    if not speaks_mtls(port):
        return {"endpoints": list(found)}
    if not node.mtls:
        problems.append(
            f"{plan.kind_name}: backend Service {name} port {number} is {MTLS_APP_PROTOCOL} and this proxy "
            "has no tls section to connect with; it gets no traffic"
        )
        return None
    verdict = backend_identity(found, snapshot.pods, node.trust_domain)
    problems.extend(f"{plan.kind_name}: backend Service {name}: {problem}" for problem in verdict.problems)
    backend: dict[str, Any] = {"endpoints": verdict.endpoints}
    if verdict.identity is not None:
        backend["identity"] = verdict.identity
    return backend


def _service_entries(
    plan: Plan,
    snapshot: Snapshot,
    node: Node,
    problems: list[str],
    slices: dict[Key, list[dict[str, Any]]],
) -> list[dict[str, Any]]:
    namespace = node.namespace
    apex = snapshot.services.get((namespace, plan.apex))
    if apex is None:
        problems.append(f"{plan.kind_name}: Service {namespace}/{plan.apex} not found")
        return []
    service_resilience, route_resilience = resilience_of([apex, plan.source, *plan.extra_sources], problems)
    ports = [p for p in (apex.get("spec") or {}).get("ports") or [] if p.get("protocol", "TCP") == "TCP"]
    if plan.port is not None:
        ports = [p for p in ports if p.get("port") == plan.port]
    entries = []
    for index, port in enumerate(ports):
        backends: dict[str, dict[str, Any]] = {}
        unusable: set[str] = set()
        for name, backend_port in plan.backends.items():
            number = backend_port if backend_port is not None else port["port"]
            backend = _backend(plan, name, number, snapshot, node, slices, problems)
            if backend is None:
                unusable.add(name)
                backend = {"endpoints": []}
            backends[name] = backend
        split = _without(plan.split, unusable)
        default_fault = plan.default_fault
        if not split or sum(split.values()) <= 0:
            backends.setdefault(UNROUTED, {"endpoints": []})
            split = {UNROUTED: 1}
            default_fault = default_fault or {"abort": {"percent": 100, "status": 503}}
        resilience = dict(service_resilience)
        resilience.update(plan.route_resilience.get("default", {}))
        resilience.update(route_resilience.get("default", {}))
        if default_fault is not None:
            resilience["fault"] = default_fault
        routes = []
        for route in plan.routes:
            route_split = _without(route["split"], unusable)
            own = {k: v for k, v in service_resilience.items() if k in ("timeout", "retries", "fault")}
            own.update(plan.route_resilience.get(route["name"], {}))
            own.update(route_resilience.get(route["name"], {}))
            if not route_split or sum(route_split.values()) <= 0:
                route_split = split
                own["fault"] = {"abort": {"percent": 100, "status": 503}}
            if default_fault is not None and "fault" not in own:
                own["fault"] = None  # the default route's 404 must not leak into matched routes
            routes.append(
                {**route, "split": route_split, "resilience": {k: v for k, v in own.items() if v is not None}}
            )
        entry: dict[str, Any] = {
            "name": plan.apex if index == 0 else f"{plan.apex}-{port.get('name') or port['port']}",
            "namespace": namespace,
            "address": node.address,
            "port": listen_port(port),
            "hosts": hosts_of(apex, node.cluster_domain),
            "backends": backends,
            "split": split,
            "routes": routes,
            "resilience": resilience,
        }
        if plan.mirror is not None and plan.mirror["backend"] in backends:
            entry["mirror"] = dict(plan.mirror)
        entries.append(entry)
    return entries


def node_config(
    snapshot: Snapshot,
    namespace: str,
    address: str = "0.0.0.0",
    cluster_domain: str = "cluster.local",
    tracing: dict[str, Any] | None = None,
    trust_domain: str = spiffe.DEFAULT_TRUST_DOMAIN,
    mtls: bool = False,
) -> NodeConfig:
    """The config of a gateway proxy of `namespace` listening on `address` (`mtls`: it has a tls section)."""
    node = Node(namespace, address, cluster_domain, trust_domain, mtls)
    own_tls = {"tls": NODE_TLS} if mtls else {}
    problems: list[str] = []
    slices = slices_by_service(snapshot.endpoint_slices.values())
    groups = {group["metadata"]["name"]: group for group in _in(snapshot.route_groups, namespace)}
    services = []
    for plan in plans(snapshot, namespace, groups, problems):
        for entry in _service_entries(plan, snapshot, node, problems, slices):
            try:
                parse_config({"services": [*services, entry], **own_tls})
            except ConfigError as exc:
                reason = str(exc).replace(f"services.{len(services)}", "service")
                problems.append(f"{plan.kind_name}: left out: {reason}")
                continue
            services.append(entry)
    targets = [
        found
        for target in _in(snapshot.traffic_targets, namespace)
        if (found := traffic_target(target, groups, problems)) is not None
    ]
    owned: dict[str, Any] = {"services": services, "traffic_targets": targets}
    if tracing:
        owned["tracing"] = tracing
    try:
        config = parse_config({**owned, **own_tls})
    except ConfigError as exc:
        problems.append(f"traffic targets or tracing left out: {exc}")
        owned = {"services": services}
        config = parse_config({**owned, **own_tls})
    return NodeConfig(config, owned, problems)
