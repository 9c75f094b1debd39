"""Gateway API HTTPRoutes attached to a Service (GAMMA, gateway.networking.k8s.io/v1) -> Plan.

Only producer routes are served (the route in the Service's own namespace): the gateway serves every client
alike. Routes for one Service are merged, oldest first, rules in the order given. A rule without matches
(or with a match that is only `PathPrefix /`) becomes the default split; when no rule is a catch-all,
requests that match no rule get 404 as the spec says, expressed as a 100% abort on the default route.
What the proxy cannot express is reported and left out rather than widened: a match on query parameters
never matches (it would otherwise catch every request), filters other than RequestMirror are ignored.
"""

from __future__ import annotations

from typing import Any

from mesh.control.plan import Plan
from mesh.control.smi import integer_weights

NOT_FOUND = {"abort": {"percent": 100, "status": 404}}
NO_BACKEND = {"abort": {"percent": 100, "status": 500}}


def attaches_to(route: dict[str, Any]) -> list[tuple[str, int | None]]:
    """(Service name, port or None) of each Service parentRef in the route's own namespace."""
    namespace = route["metadata"]["namespace"]
    found = []
    for ref in (route.get("spec") or {}).get("parentRefs") or []:
        service = ref.get("kind") == "Service" and ref.get("group", "") in ("", "core")
        if service and ref.get("namespace", namespace) == namespace and ref.get("name"):
            found.append((ref["name"], ref.get("port")))
    return found


def _string(spec: dict[str, Any], default_type: str) -> dict[str, str]:
    kind, value = spec.get("type", default_type), str(spec.get("value", ""))
    if kind == "Exact":
        return {"exact": value}
    if kind == "PathPrefix":
        return {"prefix": value}
    return {"regex": value}


def _match(match: dict[str, Any]) -> dict[str, Any] | None:
    """A proxy Match; {} for a catch-all; None when the proxy cannot express it (query parameters)."""
    if match.get("queryParams"):
        return None
    result: dict[str, Any] = {}
    path = match.get("path")
    if path and not (path.get("type", "PathPrefix") == "PathPrefix" and path.get("value", "/") in ("/", "")):
        result["path"] = _string(path, "PathPrefix")
    headers = {h["name"].lower(): _string(h, "Exact") for h in match.get("headers") or [] if h.get("name")}
    if headers:
        result["headers"] = headers
    if match.get("method"):
        result["method"] = [match["method"].upper()]
    return result


def _seconds(text: Any) -> float | str:
    return text if isinstance(text, int | float) else str(text)


def _rule_resilience(rule: dict[str, Any]) -> dict[str, Any]:
    resilience: dict[str, Any] = {}
    timeouts = rule.get("timeouts") or {}
    if timeouts.get("request") is not None:
        resilience["timeout"] = _seconds(timeouts["request"])
    retry = rule.get("retry") or {}
    if retry.get("attempts"):
        retries: dict[str, Any] = {"attempts": int(retry["attempts"])}
        if timeouts.get("backendRequest") is not None:
            retries["per_try_timeout"] = _seconds(timeouts["backendRequest"])
        codes = [int(code) for code in retry.get("codes") or []]
        if codes and all(code in (502, 503, 504) for code in codes):
            retries["retry_on"] = ["connect-failure", "reset", "gateway-error"]
        resilience["retries"] = retries
    return resilience


def _mirror(rule: dict[str, Any]) -> dict[str, Any] | None:
    for entry in rule.get("filters") or []:
        if entry.get("type") != "RequestMirror":
            continue
        mirror = entry.get("requestMirror") or {}
        ref = mirror.get("backendRef") or {}
        percent = 100.0
        if mirror.get("percent") is not None:
            percent = float(mirror["percent"])
        elif mirror.get("fraction"):
            fraction = mirror["fraction"]
            denominator = float(fraction.get("denominator", 100) or 100)
            percent = 100.0 * float(fraction.get("numerator", 0)) / denominator
        return {"backend": ref.get("name", ""), "percent": percent, "port": ref.get("port")}
    return None


def route_plan(apex: str, routes: list[dict[str, Any]], port: int | None, problems: list[str]) -> Plan | None:
    """The merged Plan of the HTTPRoutes attached to Service `apex` (already ordered oldest first)."""
    if not routes:
        return None
    plan = Plan(apex=apex, source=routes[0], port=port, extra_sources=routes[1:])
    for route in routes:
        where = f"HTTPRoute {route['metadata']['namespace']}/{route['metadata']['name']}"
        for index, rule in enumerate((route.get("spec") or {}).get("rules") or []):
            prefix = "rule" if route is routes[0] else route["metadata"]["name"]
            name = rule.get("name") or f"{prefix}-{index}"
            refs = [
                r
                for r in rule.get("backendRefs") or []
                if r.get("kind", "Service") == "Service" and r.get("name")
            ]
            try:
                weights = integer_weights({r["name"]: r.get("weight", 1) for r in refs})
            except ValueError as exc:
                problems.append(f"{where} rule {name}: {exc}")
                continue
            for ref in refs:
                known = plan.backends.setdefault(ref["name"], ref.get("port"))
                if known != ref.get("port"):
                    problems.append(f"{where} rule {name}: backend {ref['name']} on two ports; using {known}")
            mirror = _mirror(rule)
            if mirror is not None and plan.mirror is None and mirror["backend"]:
                plan.backends.setdefault(mirror["backend"], mirror.pop("port"))
                mirror.pop("port", None)
                plan.mirror = mirror
            resilience = _rule_resilience(rule)
            if sum(weights.values()) <= 0:
                weights = {}
                resilience["fault"] = NO_BACKEND
            raw_matches = rule.get("matches") or [{}]
            matches = [_match(m) for m in raw_matches]
            if any(m is None for m in matches):
                problems.append(
                    f"{where} rule {name}: query parameter matches are not supported, never match"
                )
            matches = [m for m in matches if m is not None]
            catch_all = any(m == {} for m in matches)
            if catch_all and not plan.split and not plan.default_fault:
                if weights:
                    plan.split = weights
                else:
                    plan.default_fault = NO_BACKEND
                if resilience:
                    plan.route_resilience["default"] = resilience
                continue
            if not matches or catch_all:
                continue  # never matches, or shadowed by an earlier catch-all
            plan.routes.append({"name": name, "match": matches, "split": weights})
            if resilience:
                plan.route_resilience[name] = resilience
    if not plan.split and plan.default_fault is None:
        plan.default_fault = NOT_FOUND
    return plan
