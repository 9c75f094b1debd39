"""SMI TrafficTargets (access.smi-spec.io v1alpha1..v1alpha3) -> the proxy's `traffic_targets` config.

The proxy enforces (mesh/proxy/authz.py); the control plane's part is to resolve what the proxy cannot
look up: a rule names an HTTPRouteGroup (and optionally some of its matches by name), which becomes the
proxy's own match shape. Older versions keep `destination`, `specs` and `sources` at the top level.
A rule whose group is missing allows nothing (deny by default), expressed as a match that never holds,
because an empty rule would mean "every request".
"""

from __future__ import annotations

from typing import Any

from mesh.control.smi import route_group_matches

NEVER = {"path": {"regex": "(?!)"}}


def _identity(ref: dict[str, Any], namespace: str) -> dict[str, Any] | None:
    if ref.get("kind", "ServiceAccount") != "ServiceAccount" or not ref.get("name"):
        return None
    return {"kind": "ServiceAccount", "name": ref["name"], "namespace": ref.get("namespace") or namespace}


def _group_entries(group: dict[str, Any]) -> list[dict[str, Any]]:
    return (group.get("spec") or {}).get("matches") or group.get("matches") or []


def traffic_target(
    target: dict[str, Any], groups: dict[str, dict[str, Any]], problems: list[str]
) -> dict[str, Any] | None:
    meta = target["metadata"]
    namespace = meta.get("namespace", "default")
    spec = target.get("spec") or target
    where = f"TrafficTarget {namespace}/{meta['name']}"
    destination = _identity(spec.get("destination") or {}, namespace)
    sources = [s for s in (_identity(ref, namespace) for ref in spec.get("sources") or []) if s is not None]
    if destination is None or not sources:
        problems.append(f"{where}: needs a ServiceAccount destination and at least one ServiceAccount source")
        return None
    rules = []
    for rule in spec.get("rules") or spec.get("specs") or []:
        if rule.get("kind") != "HTTPRouteGroup":
            rules.append({"name": rule.get("name", "")})  # TCPRoute/UDPRoute: the whole connection
            continue
        group = groups.get(rule.get("name", ""))
        if group is None:
            problems.append(
                f"{where}: HTTPRouteGroup {rule.get('name')!r} not found; that rule allows nothing"
            )
            rules.append({"name": rule.get("name", ""), "matches": [NEVER]})
            continue
        wanted = set(rule.get("matches") or [])
        entries = [e for e in _group_entries(group) if not wanted or e.get("name") in wanted]
        matches = route_group_matches({"spec": {"matches": entries}})
        rules.append({"name": rule["name"], "matches": matches or [NEVER]})
    return {
        "name": meta["name"],
        "namespace": namespace,
        "destination": destination,
        "sources": sources,
        "rules": rules,
    }
