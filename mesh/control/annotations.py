"""Per-service and per-route resilience for the mesh, read from annotations in the proxy's own schema.

SMI has no retries, timeouts or fault injection and Gateway API only timeouts (and experimental retries),
so sluice takes them from two annotations holding the proxy's config models as JSON or YAML: nothing new to
learn, and the very validation the proxy applies, with the same messages. They are read from the apex
Service (set them with the Canary's `spec.service.apex.annotations`) and from the TrafficSplit or
HTTPRoute, the route object winning key by key:

    mesh.sluice.dev/resilience: '{"timeout": "5s", "retries": {"attempts": 2}, "circuit_breaker": {...}}'
    mesh.sluice.dev/route-resilience: '{"ab": {"timeout": "1s", "fault": {"abort": {"percent": 10}}}}'

A bad annotation is reported as a problem and ignored; it never takes a service out of the mesh.
"""

from __future__ import annotations

import json
from typing import Any

import yaml

from mesh.proxy.config import Resilience, RouteResilience
from mesh.proxy.schema import ValidationError, validate

SERVICE_RESILIENCE = "mesh.sluice.dev/resilience"
ROUTE_RESILIENCE = "mesh.sluice.dev/route-resilience"


def _annotations(obj: dict[str, Any] | None) -> dict[str, str]:
    return ((obj or {}).get("metadata") or {}).get("annotations") or {}


def _mapping(text: str, where: str, problems: list[str]) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except ValueError:
        try:
            value = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            problems.append(f"{where}: not JSON or YAML: {exc}")
            return {}
    if not isinstance(value, dict):
        problems.append(f"{where}: expected a mapping, got {type(value).__name__}")
        return {}
    return value


def resilience_of(
    objects: list[dict[str, Any] | None], problems: list[str]
) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """(service resilience, route name -> route resilience) as proxy-config dicts, later objects winning."""
    service: dict[str, Any] = {}
    routes: dict[str, dict[str, Any]] = {}
    for obj in objects:
        annotations = _annotations(obj)
        name = f"{(obj or {}).get('kind', 'object')} {((obj or {}).get('metadata') or {}).get('name', '')}"
        if SERVICE_RESILIENCE in annotations:
            where = f"{name} annotation {SERVICE_RESILIENCE}"
            candidate = {**service, **_mapping(annotations[SERVICE_RESILIENCE], where, problems)}
            try:
                Resilience.model_validate(candidate)
                service = candidate
            except ValidationError as exc:
                problems.append(f"{where}: {exc}")
        if ROUTE_RESILIENCE in annotations:
            where = f"{name} annotation {ROUTE_RESILIENCE}"
            given = _mapping(annotations[ROUTE_RESILIENCE], where, problems)
            candidate_routes = {
                **routes,
                **{k: {**routes.get(k, {}), **(v or {})} for k, v in given.items() if isinstance(v, dict)},
            }
            try:
                validate(dict[str, RouteResilience], candidate_routes)
                routes = candidate_routes
            except ValidationError as exc:
                problems.append(f"{where}: {exc}")
    return service, routes
