"""Router for sluice's own proxy (mesh/proxy), driven through its admin API.

The proxy holds one service per canary, named after the apex, with backends `<apex>-primary` and
`<apex>-canary` whose endpoints come from the platform. `reconcile` (every tick) refreshes endpoints, the
A/B match routes and session stickiness but keeps the live weights and mirror, so drift correction never
resets a rollout; `set_routes` moves weights only. The config is replaced only when it differs, because
every replace is an atomic swap in the data plane and there is no reason to do one per tick.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, Literal

from controller.api.canary import Canary, HTTPMatchRequest, StringMatch
from controller.api.routes import Routes
from mesh.proxy.admin_client import AdminClient

Role = Literal["primary", "canary"]
Endpoints = Callable[[Canary, Role], list[str]]


class BundledProxyRouter:
    def __init__(self, admin: AdminClient, endpoints: Endpoints, address: str = "127.0.0.1") -> None:
        self.admin = admin
        self.endpoints = endpoints
        self.address = address

    def reconcile(self, canary: Canary) -> None:
        config = self.admin.get_config()
        services: list[dict[str, Any]] = config.get("services", [])
        name = canary.spec.apex_name()
        index = _find(services, canary)
        desired = self._service(canary)
        if index is None:
            desired["split"] = _recorded_split(canary)
            services.append(desired)
        else:
            current = services[index]
            desired["split"] = current["split"]
            desired["mirror"] = current.get("mirror")
            live_route_split = current["routes"][0]["split"] if current.get("routes") else None
            for route in desired["routes"]:
                route["split"] = live_route_split or {f"{name}-primary": 100, f"{name}-canary": 0}
            merged = {**current, **desired}
            if merged == current:
                return
            services[index] = merged
        config["services"] = services
        self.admin.put_config(config)

    def set_routes(self, canary: Canary, routes: Routes) -> None:
        self.admin.set_weights(
            canary.spec.apex_name(),
            routes.primary_weight,
            routes.canary_weight,
            mirrored=routes.mirrored,
            mirror_weight=routes.mirror_weight,
            matched=routes.matched,
        )

    def get_routes(self, canary: Canary) -> Routes:
        return live_routes(self.admin, canary.spec.apex_name())

    def finalize(self, canary: Canary) -> None:
        config = self.admin.get_config()
        services: list[dict[str, Any]] = config.get("services", [])
        index = _find(services, canary)
        if index is not None:
            del services[index]
            self.admin.put_config(config)

    def routed(self, canary: Canary, role: Role) -> list[str]:
        """The endpoints the proxy sends `role`'s traffic to right now."""
        services = self.admin.get_config().get("services", [])
        index = _find(services, canary)
        if index is None:
            return []
        backend = services[index]["backends"].get(f"{canary.spec.apex_name()}-{role}", {})
        return list(backend.get("endpoints", []))

    def _service(self, canary: Canary) -> dict[str, Any]:
        name = canary.spec.apex_name()
        analysis = canary.spec.get_analysis()
        service: dict[str, Any] = {
            "name": name,
            "namespace": canary.metadata.namespace,
            "address": self.address,
            "port": canary.spec.service.port,
            "backends": {
                f"{name}-primary": {"endpoints": self.endpoints(canary, "primary")},
                f"{name}-canary": {"endpoints": self.endpoints(canary, "canary")},
            },
            "split": {f"{name}-primary": 100, f"{name}-canary": 0},
            "routes": [],
            "mirror": None,
        }
        if analysis.match:
            service["routes"] = [
                {
                    "name": "ab",
                    "match": [proxy_match(m) for m in analysis.match],
                    "split": {f"{name}-primary": 100, f"{name}-canary": 0},
                }
            ]
        if analysis.session_affinity:
            affinity = analysis.session_affinity
            service["sticky"] = {"cookie": affinity.cookie_name, "max_age": float(affinity.max_age)}
        return service


def live_routes(admin: AdminClient, service: str) -> Routes:
    """The weights the proxy applies to `service` right now, as the engine's Routes."""
    live = admin.get_routes(service)
    return Routes(
        primary_weight=live["primary_weight"],
        canary_weight=live["canary_weight"],
        mirrored=live.get("mirrored", False),
        mirror_weight=live.get("mirror_weight", 100),
        matched=live.get("matched", False),
    )


def proxy_match(match: HTTPMatchRequest) -> dict[str, Any]:
    """A Flagger/Istio-style match in the proxy's terms (a `cookie` header regex stays a header match)."""
    result: dict[str, Any] = {}
    if match.headers:
        result["headers"] = {name.lower(): string_match(value) for name, value in match.headers.items()}
    if match.uri:
        result["path"] = string_match(match.uri)
    if match.method:
        method = match.method.exact or match.method.prefix or match.method.regex or ""
        result["method"] = [method.upper()]
    return result


def string_match(value: StringMatch) -> dict[str, str]:
    if value.exact is not None:
        return {"exact": value.exact}
    if value.prefix is not None:
        return {"prefix": value.prefix}
    if value.suffix is not None:
        return {"regex": f".*{re.escape(value.suffix)}$"}
    return {"regex": value.regex or ".*"}


def _recorded_split(canary: Canary) -> dict[str, int]:
    """A service the proxy does not know yet starts at the weight the canary's status records: 0 for a new
    canary, the current step when the proxy was restarted mid-rollout (A/B matches and mirroring are set
    again by the engine's next step)."""
    name, status = canary.spec.apex_name(), canary.status
    weight = status.canary_weight if status and status.phase in ("Progressing", "WaitingPromotion") else 0
    return {f"{name}-primary": 100 - weight, f"{name}-canary": weight}


def _find(services: list[dict[str, Any]], canary: Canary) -> int | None:
    name, namespace = canary.spec.apex_name(), canary.metadata.namespace
    return next(
        (i for i, s in enumerate(services) if s["name"] == name and s.get("namespace") == namespace), None
    )
