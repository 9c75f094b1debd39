"""Traffic provider name -> router: adding a routing API is one module plus one line in PROVIDERS.

Names follow Flagger where they overlap (`kubernetes`, `linkerd` = SMI v1alpha1, `osm` = SMI v1alpha2,
`smi:<version>[:<mesh>]`, `gatewayapi[:v1]`); `sluice` is the bundled mesh, which reads HTTPRoutes with
a Service parentRef (GAMMA). An unknown provider is an error naming the known ones, not Flagger's silent
fallback to Istio. `ProviderRouter` picks the router per canary (`spec.provider`, else the controller's
default) so the tick sees one Router.
"""

from __future__ import annotations

from collections.abc import Callable

from kubernetes.client import ApiClient

from controller.api.canary import Canary
from controller.api.routes import Routes
from controller.ports.router import Router
from controller.routers.gateway_api import GatewayAPIRouter
from controller.routers.kubernetes_service import KubernetesServiceRouter
from controller.routers.smi import SMIRouter

PROVIDERS: dict[str, Callable[[ApiClient], Router]] = {
    "kubernetes": KubernetesServiceRouter,
    "smi:v1alpha1": lambda api: SMIRouter(api, "v1alpha1"),
    "smi:v1alpha2": lambda api: SMIRouter(api, "v1alpha2"),
    "smi:v1alpha3": lambda api: SMIRouter(api, "v1alpha3"),
    "smi:v1alpha4": lambda api: SMIRouter(api, "v1alpha4"),
    "smi": lambda api: SMIRouter(api, "v1alpha4"),
    "linkerd": lambda api: SMIRouter(api, "v1alpha1"),
    "osm": lambda api: SMIRouter(api, "v1alpha2"),
    "gatewayapi:v1": GatewayAPIRouter,
    "gatewayapi": GatewayAPIRouter,
    "sluice": GatewayAPIRouter,
}


class UnknownProvider(ValueError):
    pass


def provider_key(provider: str) -> str:
    """`smi:v1alpha3:linkerd` -> `smi:v1alpha3` (the mesh suffix names who implements it, not how)."""
    parts = provider.split(":")
    key = ":".join(parts[:2]) if parts[0] == "smi" else provider
    if key not in PROVIDERS:
        raise UnknownProvider(f"unknown provider {provider!r} (one of {', '.join(PROVIDERS)})")
    return key


class ProviderRouter:
    """A Router that hands each call to the router of the canary's provider (one instance per provider)."""

    def __init__(self, api: ApiClient, default_provider: str) -> None:
        provider_key(default_provider)
        self.api = api
        self.default_provider = default_provider
        self._routers: dict[str, Router] = {}

    def router_for(self, canary: Canary) -> Router:
        key = provider_key(canary.spec.provider or self.default_provider)
        if key not in self._routers:
            self._routers[key] = PROVIDERS[key](self.api)
        return self._routers[key]

    def reconcile(self, canary: Canary) -> None:
        self.router_for(canary).reconcile(canary)

    def set_routes(self, canary: Canary, routes: Routes) -> None:
        self.router_for(canary).set_routes(canary, routes)

    def get_routes(self, canary: Canary) -> Routes:
        return self.router_for(canary).get_routes(canary)

    def finalize(self, canary: Canary) -> None:
        self.router_for(canary).finalize(canary)
