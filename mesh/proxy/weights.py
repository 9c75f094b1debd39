"""The router seam in data-plane terms: Flagger's (primary, canary, mirrored, matched) on one service.

The controller speaks in `controller.api.routes.Routes`; the proxy speaks in splits. For service `S` the
backends are `S-primary` and `S-canary`. `matched` means the service's match routes (A/B) carry the
weights while every other request goes to the primary; unmatched, the weights apply to every request.
Reading back derives the same fields from the live config, so set-then-get round-trips.
"""

from __future__ import annotations

from typing import Annotated, Any

from mesh.proxy.config import Mirror, Service
from mesh.proxy.schema import Check, Model

Weight = Annotated[int, Check(ge=0, le=100)]


class RoutesBody(Model):
    primary_weight: Weight
    canary_weight: Weight
    mirrored: bool = False
    mirror_weight: Weight = 100
    matched: bool = False

    def model_check(self) -> None:
        if self.primary_weight + self.canary_weight != 100:
            raise ValueError(f"weights must sum to 100 (got {self.primary_weight}/{self.canary_weight})")


def backend_names(service: Service) -> tuple[str, str]:
    return f"{service.name}-primary", f"{service.name}-canary"


def apply_routes(service: Service, body: RoutesBody) -> Service:
    """A copy of `service` with the weights, mirror and A/B state of `body`."""
    primary, canary = backend_names(service)
    for name in (primary, canary):
        if name not in service.backends:
            raise ValueError(
                f"service {service.name!r} has no backend {name!r} (has {sorted(service.backends)})"
            )
    weighted = {primary: body.primary_weight, canary: body.canary_weight}
    if body.matched and not service.routes:
        raise ValueError(f"matched: service {service.name!r} has no match routes to carry the weights")
    default = {primary: 100, canary: 0} if body.matched else weighted
    routes = [route.model_copy(update={"split": weighted}) for route in service.routes]
    mirror = Mirror(backend=canary, percent=body.mirror_weight) if body.mirrored else None
    return service.model_copy(update={"split": default, "routes": routes, "mirror": mirror})


def read_routes(service: Service) -> dict[str, Any]:
    canary = backend_names(service)[1]
    route_split = service.routes[0].split if service.routes else None
    matched = route_split is not None and route_split != service.split
    split = route_split if matched else service.split
    total = sum(split.values()) or 1
    canary_weight = round(100 * split.get(canary, 0) / total)
    mirror = service.mirror
    return {
        "primary_weight": 100 - canary_weight,
        "canary_weight": canary_weight,
        "mirrored": mirror is not None and mirror.backend == canary,
        "mirror_weight": round(mirror.percent) if mirror is not None else 100,
        "matched": matched,
    }
