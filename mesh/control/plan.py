"""What one routing object asks of one apex Service, before endpoints are known: the common shape that SMI
TrafficSplits and Gateway API HTTPRoutes are both translated into (mesh.md §1.6: HTTPRoute is the native
model, SMI a compatibility input), so the rest of the control plane has a single thing to turn into proxy
config.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Plan:
    apex: str  # the Service clients call (same namespace)
    source: dict[str, Any]  # the TrafficSplit or (first) HTTPRoute, for annotations and messages
    backends: dict[str, int | None] = field(default_factory=dict)  # Service name -> port (None: the apex's)
    split: dict[str, int] = field(default_factory=dict)  # default route: backend -> relative weight
    routes: list[dict[str, Any]] = field(default_factory=list)  # proxy Route dicts, in order
    route_resilience: dict[str, dict[str, Any]] = field(default_factory=dict)  # from the routing API itself
    default_fault: dict[str, Any] | None = None  # e.g. GAMMA's 404 when no rule matches
    mirror: dict[str, Any] | None = None
    port: int | None = None  # only this apex port (HTTPRoute parentRef.port)
    extra_sources: list[dict[str, Any]] = field(default_factory=list)

    @property
    def kind_name(self) -> str:
        return f"{self.source.get('kind', 'object')} {self.source['metadata']['name']}"
