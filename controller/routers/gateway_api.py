"""Gateway API router: one `HTTPRoute` (gateway.networking.k8s.io/v1) per canary, named after the apex.

Rule 0 carries the split between `<apex>-primary` and `<apex>-canary`, plus a RequestMirror filter while
traffic is mirrored. For A/B, rule 0 also carries the analysis matches (header exact/regex, a cookie as
a `Cookie` header regex, path, method) and a second rule sends everything else to the primary. Without
`service.gatewayRefs` the route attaches to the apex Service itself (a core/Service parentRef: the GAMMA
mesh form, which the bundled mesh serves); with them, to those Gateways for `service.hosts`.

As with SMI, the manifest is a pure function of (canary, routes), `routes_of` reads it back, and
`reconcile` rebuilds around the live routes so it never resets a rollout in flight.
"""

from __future__ import annotations

from typing import Any

from kubernetes.client import ApiClient

from controller.api.canary import Canary, HTTPMatchRequest, StringMatch
from controller.api.durations import parse_duration
from controller.api.routes import PRIMARY_ONLY, Routes
from controller.routers.custom_objects import MANAGED_BY, CustomObjects
from controller.routers.smi import anchored_regex, owner_reference

GROUP = "gateway.networking.k8s.io"
VERSION = "v1"


def _header(name: str, value: StringMatch) -> dict[str, str]:
    if value.exact is not None:
        return {"type": "Exact", "name": name, "value": value.exact}
    return {"type": "RegularExpression", "name": name, "value": anchored_regex(value)}


def _path(value: StringMatch) -> dict[str, str]:
    if value.exact is not None:
        return {"type": "Exact", "value": value.exact}
    if value.prefix is not None:
        return {"type": "PathPrefix", "value": value.prefix}
    return {"type": "RegularExpression", "value": anchored_regex(value)}


def route_match(match: HTTPMatchRequest) -> dict[str, Any]:
    result: dict[str, Any] = {}
    if match.uri is not None:
        result["path"] = _path(match.uri)
    if match.headers:
        result["headers"] = [_header(name, value) for name, value in match.headers.items()]
    if match.query_params:
        result["queryParams"] = [_header(name, value) for name, value in match.query_params.items()]
    if match.method is not None and match.method.exact:
        result["method"] = match.method.exact.upper()
    return result


def _backend(name: str, port: int, weight: int | None = None) -> dict[str, Any]:
    ref: dict[str, Any] = {"group": "", "kind": "Service", "name": name, "port": port}
    if weight is not None:
        ref["weight"] = weight
    return ref


def _split_rule(canary: Canary, routes: Routes) -> dict[str, Any]:
    apex, port = canary.spec.apex_name(), canary.spec.service.port
    rule: dict[str, Any] = {
        "backendRefs": [
            _backend(f"{apex}-primary", port, routes.primary_weight),
            _backend(f"{apex}-canary", port, routes.canary_weight),
        ]
    }
    if routes.mirrored:
        mirror: dict[str, Any] = {"backendRef": _backend(f"{apex}-canary", port)}
        if routes.mirror_weight < 100:
            mirror["percent"] = routes.mirror_weight
        rule["filters"] = [{"type": "RequestMirror", "requestMirror": mirror}]
    if canary.spec.service.timeout:
        rule["timeouts"] = {"request": f"{parse_duration(canary.spec.service.timeout):g}s"}
    return rule


def _parent_refs(canary: Canary) -> list[dict[str, Any]]:
    if canary.spec.service.gateway_refs:
        return [dict(ref) for ref in canary.spec.service.gateway_refs]
    return [_backend(canary.spec.apex_name(), canary.spec.service.port)]


def http_route(canary: Canary, routes: Routes) -> dict[str, Any]:
    split = _split_rule(canary, routes)
    matches = canary.spec.get_analysis().match
    if routes.matched and matches:
        rules = [{"matches": [route_match(m) for m in matches], **split}, _split_rule(canary, PRIMARY_ONLY)]
    else:
        rules = [split]
    spec: dict[str, Any] = {"parentRefs": _parent_refs(canary), "rules": rules}
    if canary.spec.service.gateway_refs and canary.spec.service.hosts:
        spec["hostnames"] = list(canary.spec.service.hosts)
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "HTTPRoute",
        "metadata": {
            "name": canary.spec.apex_name(),
            "namespace": canary.metadata.namespace,
            "labels": dict(MANAGED_BY),
            "ownerReferences": owner_reference(canary),
        },
        "spec": spec,
    }


def routes_of(route: dict[str, Any], canary: Canary) -> Routes:
    apex = canary.spec.apex_name()
    rules = route["spec"].get("rules") or []
    if not rules:
        raise ValueError(f"HTTPRoute {apex} has no rules")
    rule = rules[0]
    weights = {ref["name"]: int(ref.get("weight", 1)) for ref in rule.get("backendRefs", [])}
    primary, canary_weight = weights.get(f"{apex}-primary", 0), weights.get(f"{apex}-canary", 0)
    if primary + canary_weight <= 0:
        raise ValueError(f"HTTPRoute {apex}: primary and canary weights are both zero")
    canary_percent = round(100 * canary_weight / (primary + canary_weight))
    mirror = next((f for f in rule.get("filters", []) if f.get("type") == "RequestMirror"), None)
    return Routes(
        primary_weight=100 - canary_percent,
        canary_weight=canary_percent,
        mirrored=mirror is not None,
        mirror_weight=int(mirror["requestMirror"].get("percent", 100)) if mirror else 100,
        matched=bool(rule.get("matches")) and len(rules) > 1,
    )


class GatewayAPIRouter:
    def __init__(self, api: ApiClient) -> None:
        self.routes = CustomObjects(api, GROUP, VERSION, "httproutes")

    def reconcile(self, canary: Canary) -> None:
        current = self._current(canary)
        live = routes_of(current, canary) if current is not None else PRIMARY_ONLY
        self.routes.apply(http_route(canary, live), current)

    def set_routes(self, canary: Canary, routes: Routes) -> None:
        self.routes.apply(http_route(canary, routes), self._current(canary))

    def get_routes(self, canary: Canary) -> Routes:
        current = self._current(canary)
        if current is None:
            raise LookupError(f"HTTPRoute {canary.spec.apex_name()} does not exist yet")
        return routes_of(current, canary)

    def finalize(self, canary: Canary) -> None:
        self.routes.delete(canary.metadata.namespace, canary.spec.apex_name())

    def _current(self, canary: Canary) -> dict[str, Any] | None:
        return self.routes.get(canary.metadata.namespace, canary.spec.apex_name())
