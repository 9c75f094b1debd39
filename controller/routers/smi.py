"""SMI TrafficSplit router, one implementation for every apiVersion (v1alpha1..v1alpha4).

Flagger keeps three near-copies of this router, one per version (reference/flagger.md §6). The versions
differ in two small ways, so here they are parameters: v1alpha1 weights are Kubernetes quantities, later
ones integers; v1alpha3/v1alpha4 may reference an HTTPRouteGroup in `spec.matches`, which is how sluice
does header/cookie A/B on SMI (Flagger never did): matched requests are split by the backends' weights,
unmatched ones go to the apex Service itself (the primary).

The manifests are built by pure functions (`traffic_split`, `http_route_group`, `routes_of`), so the
router's whole behaviour is unit-tested without a cluster. `reconcile` rebuilds the split around the live
weights and matches, so drift correction never resets a rollout in flight; `set_routes` is the only writer
of weights.
"""

from __future__ import annotations

import re
from typing import Any

from kubernetes.client import ApiClient
from kubernetes.utils import parse_quantity

from controller.api.base import API_VERSION
from controller.api.canary import Canary, HTTPMatchRequest, StringMatch
from controller.api.routes import PRIMARY_ONLY, Routes
from controller.routers.custom_objects import MANAGED_BY, CustomObjects

SPLIT_GROUP = "split.smi-spec.io"
SPECS_GROUP = "specs.smi-spec.io"
VERSIONS = ("v1alpha1", "v1alpha2", "v1alpha3", "v1alpha4")
MATCH_VERSIONS = ("v1alpha3", "v1alpha4")


class UnsupportedRoutes(ValueError):
    """The routing API cannot express what the rollout asks for (e.g. A/B on SMI v1alpha2)."""


def owner_reference(canary: Canary) -> list[dict[str, Any]]:
    """The Canary owns what sluice generates, so deleting it (without revertOnDeletion) removes them."""
    uid = (canary.metadata.model_extra or {}).get("uid")
    if not uid:
        return []
    return [
        {
            "apiVersion": API_VERSION,
            "kind": "Canary",
            "name": canary.metadata.name,
            "uid": uid,
            "controller": True,
            "blockOwnerDeletion": True,
        }
    ]


def anchored_regex(value: StringMatch) -> str:
    """An Istio-style string match as one regex (SMI and Gateway API header matches are regex or exact)."""
    if value.exact is not None:
        return f"^{re.escape(value.exact)}$"
    if value.prefix is not None:
        return f"^{re.escape(value.prefix)}.*"
    if value.suffix is not None:
        return f".*{re.escape(value.suffix)}$"
    return value.regex or ".*"


def _weight(version: str, weight: int) -> int | str:
    return str(weight) if version == "v1alpha1" else weight


def traffic_split(canary: Canary, version: str, routes: Routes) -> dict[str, Any]:
    apex = canary.spec.apex_name()
    spec: dict[str, Any] = {
        "service": (canary.spec.service.hosts or [apex])[0],
        "backends": [
            {"service": f"{apex}-canary", "weight": _weight(version, routes.canary_weight)},
            {"service": f"{apex}-primary", "weight": _weight(version, routes.primary_weight)},
        ],
    }
    if routes.matched:
        if version not in MATCH_VERSIONS:
            raise UnsupportedRoutes(
                f"A/B matches need SMI {' or '.join(MATCH_VERSIONS)} (provider smi:{version} has no "
                "spec.matches); use provider smi:v1alpha4 or gatewayapi"
            )
        spec["matches"] = [{"kind": "HTTPRouteGroup", "name": apex, "apiGroup": SPECS_GROUP}]
    return {
        "apiVersion": f"{SPLIT_GROUP}/{version}",
        "kind": "TrafficSplit",
        "metadata": {
            "name": apex,
            "namespace": canary.metadata.namespace,
            "labels": dict(MANAGED_BY),
            "ownerReferences": owner_reference(canary),
        },
        "spec": spec,
    }


def _route_group_match(index: int, match: HTTPMatchRequest) -> dict[str, Any]:
    result: dict[str, Any] = {"name": match.name or f"ab-{index}"}
    if match.uri is not None:
        result["pathRegex"] = anchored_regex(match.uri).removeprefix("^")
    if match.method is not None and match.method.exact:
        result["methods"] = [match.method.exact.upper()]
    if match.headers:
        result["headers"] = {name.lower(): anchored_regex(value) for name, value in match.headers.items()}
    return result


def http_route_group(canary: Canary, version: str) -> dict[str, Any] | None:
    """The A/B matches as an HTTPRouteGroup (entries OR-ed, headers within one entry AND-ed), or None."""
    matches = canary.spec.get_analysis().match
    if not matches or version not in MATCH_VERSIONS:
        return None
    return {
        "apiVersion": f"{SPECS_GROUP}/{version}",
        "kind": "HTTPRouteGroup",
        "metadata": {
            "name": canary.spec.apex_name(),
            "namespace": canary.metadata.namespace,
            "labels": dict(MANAGED_BY),
            "ownerReferences": owner_reference(canary),
        },
        "spec": {"matches": [_route_group_match(i, m) for i, m in enumerate(matches)]},
    }


def _percent_of(value: Any) -> float:
    return float(parse_quantity(str(value)))


def routes_of(split: dict[str, Any], canary: Canary) -> Routes:
    """Live weights as percentages (v1alpha1 quantities and relative weights are normalised)."""
    apex = canary.spec.apex_name()
    weights = {b["service"]: _percent_of(b.get("weight", 0)) for b in split["spec"].get("backends", [])}
    primary, canary_weight = weights.get(f"{apex}-primary", 0.0), weights.get(f"{apex}-canary", 0.0)
    total = primary + canary_weight
    if total <= 0:
        raise ValueError(f"TrafficSplit {apex}: primary and canary weights are both zero")
    canary_percent = round(100 * canary_weight / total)
    return Routes(
        primary_weight=100 - canary_percent,
        canary_weight=canary_percent,
        matched=bool(split["spec"].get("matches")),
    )


class SMIRouter:
    def __init__(self, api: ApiClient, version: str) -> None:
        if version not in VERSIONS:
            raise ValueError(f"unknown SMI TrafficSplit version {version!r} (one of {', '.join(VERSIONS)})")
        self.version = version
        self.splits = CustomObjects(api, SPLIT_GROUP, version, "trafficsplits")
        self.groups = CustomObjects(api, SPECS_GROUP, version, "httproutegroups")

    def reconcile(self, canary: Canary) -> None:
        self._reconcile_route_group(canary)
        current = self._current(canary)
        live = routes_of(current, canary) if current is not None else PRIMARY_ONLY
        self.splits.apply(traffic_split(canary, self.version, live), current)

    def set_routes(self, canary: Canary, routes: Routes) -> None:
        self.splits.apply(traffic_split(canary, self.version, routes), self._current(canary))

    def get_routes(self, canary: Canary) -> Routes:
        current = self._current(canary)
        if current is None:
            raise LookupError(f"TrafficSplit {canary.spec.apex_name()} does not exist yet")
        return routes_of(current, canary)

    def finalize(self, canary: Canary) -> None:
        """The apex Service routes to the target again once the split is gone (revertOnDeletion)."""
        self.splits.delete(canary.metadata.namespace, canary.spec.apex_name())
        if self.version in MATCH_VERSIONS:
            self.groups.delete(canary.metadata.namespace, canary.spec.apex_name())

    def _current(self, canary: Canary) -> dict[str, Any] | None:
        return self.splits.get(canary.metadata.namespace, canary.spec.apex_name())

    def _reconcile_route_group(self, canary: Canary) -> None:
        if self.version not in MATCH_VERSIONS:
            return
        ns, name = canary.metadata.namespace, canary.spec.apex_name()
        desired = http_route_group(canary, self.version)
        current = self.groups.get(ns, name)
        if desired is not None:
            self.groups.apply(desired, current)
        elif current is not None:
            self.groups.delete(ns, name)
