"""SMI TrafficSplit (split.smi-spec.io v1alpha1..v1alpha4) and HTTPRouteGroup (specs.smi-spec.io) -> Plan.

All TrafficSplit versions are served from one stored object, so the shapes are read tolerantly rather than
by declared version: a weight may be an integer, a number or a Kubernetes quantity (`"100m"`, v1alpha1);
HTTPRouteGroup matches may sit at the top (v1alpha1/2) or under `spec` (v1alpha3/4), and their `headers`
may be a map or a list of maps (the docs and the sdk-go CRD disagree, mesh.md §1.3). Requests matching a
split's route groups get the backends' weights; the others go to the apex itself, which in gateway mode
means the `<apex>-primary` backend when the split has one (the apex selects the gateway's own pods).
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from kubernetes.utils import parse_quantity

from mesh.control.plan import Plan

METHODS = {"GET", "HEAD", "PUT", "POST", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"}


def _weight(value: Any) -> Decimal:
    if isinstance(value, bool):
        raise ValueError("a weight is a number")
    if isinstance(value, int | float):
        return Decimal(str(value))
    try:
        return Decimal(parse_quantity(str(value)))
    except (ValueError, InvalidOperation):
        raise ValueError(f"weight {value!r} is not a number or quantity") from None


def integer_weights(raw: dict[str, Any]) -> dict[str, int]:
    """Relative weights as the proxy's integers: whole numbers kept, fractions (`100m`) scaled by 1000."""
    weights = {name: _weight(value) for name, value in raw.items()}
    if any(weight < 0 for weight in weights.values()):
        raise ValueError("weights cannot be negative")
    scale = 1 if all(weight == weight.to_integral_value() for weight in weights.values()) else 1000
    return {name: int((weight * scale).to_integral_value()) for name, weight in weights.items()}


def root_name(service: str, namespace: str) -> str:
    """`podinfo`, `podinfo.test`, `podinfo.test.svc.cluster.local` -> `podinfo` (or ValueError)."""
    name, _, rest = service.partition(".")
    if rest and rest.split(".")[0] != namespace:
        raise ValueError(f"spec.service {service!r} is not in namespace {namespace!r}")
    return name


def route_group_matches(group: dict[str, Any]) -> list[dict[str, Any]]:
    """The proxy Matches of an HTTPRouteGroup (entries OR-ed, conditions within one AND-ed)."""
    entries = (group.get("spec") or {}).get("matches") or group.get("matches") or []
    result = []
    for entry in entries:
        match: dict[str, Any] = {}
        path = entry.get("pathRegex")
        if path and path not in (".*", "/.*", "^.*", "^/.*"):
            match["path"] = {"regex": f"(?:{path}).*"}  # anchored at the start only (SMI), full match here
        methods = [m.upper() for m in entry.get("methods") or [] if m != "*"]
        if methods and "*" not in (entry.get("methods") or []):
            match["method"] = [m for m in methods if m in METHODS]
        headers = entry.get("headers") or {}
        if isinstance(headers, list):
            headers = {k: v for item in headers if isinstance(item, dict) for k, v in item.items()}
        if headers:
            match["headers"] = {name.lower(): {"regex": str(value)} for name, value in headers.items()}
        result.append(match)
    return result


def split_plan(split: dict[str, Any], groups: dict[str, dict[str, Any]], problems: list[str]) -> Plan | None:
    """The Plan of one TrafficSplit, `groups` being the HTTPRouteGroups of its namespace by name."""
    meta, spec = split["metadata"], split.get("spec") or {}
    where = f"TrafficSplit {meta['namespace']}/{meta['name']}"
    try:
        apex = root_name(str(spec.get("service", "")), meta["namespace"])
        weights = integer_weights({b["service"]: b.get("weight", 0) for b in spec.get("backends") or []})
    except (KeyError, ValueError) as exc:
        problems.append(f"{where}: {exc}")
        return None
    if not apex or not weights:
        problems.append(f"{where}: needs spec.service and spec.backends")
        return None
    plan = Plan(apex=apex, source=split, backends=dict.fromkeys(weights), split=dict(weights))
    matches: list[dict[str, Any]] = []
    for ref in spec.get("matches") or []:
        if ref.get("kind") != "HTTPRouteGroup":
            problems.append(f"{where}: matches of kind {ref.get('kind')!r} ignored (only HTTPRouteGroup)")
            continue
        group = groups.get(ref.get("name", ""))
        if group is None:
            problems.append(f"{where}: HTTPRouteGroup {ref.get('name')!r} not found; no requests match it")
            continue
        plan.extra_sources.append(group)
        matches += route_group_matches(group)
    if spec.get("matches"):
        primary = f"{apex}-primary" if f"{apex}-primary" in weights else apex
        plan.backends.setdefault(primary, None)
        plan.split = {primary: 1}
        if matches:
            plan.routes.append({"name": "match", "match": matches, "split": dict(weights)})
    return plan
