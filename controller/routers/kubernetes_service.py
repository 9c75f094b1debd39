"""Provider `kubernetes`: blue/green by switching the apex Service's selector, no mesh needed.

Plain Services cannot split traffic, so the only routes this router can express are all-primary and
all-canary: `set_routes(0/100)` points the apex at the canary's pods (the blue/green switch before
promotion) and `100/0` points it back at the primary's. The selectors are taken from the `-primary` and
`-canary` Services the platform keeps, so this router needs to know nothing about labels. A split weight
(a canary strategy) or an A/B match is refused with a reason: use iterations, or a mesh provider.
"""

from __future__ import annotations

from kubernetes.client import ApiClient, CoreV1Api

from controller.api.canary import Canary
from controller.api.routes import Routes
from controller.routers.smi import UnsupportedRoutes


class KubernetesServiceRouter:
    def __init__(self, api: ApiClient) -> None:
        self.core = CoreV1Api(api)

    def reconcile(self, canary: Canary) -> None:
        """The platform owns the Services; nothing else to make."""

    def set_routes(self, canary: Canary, routes: Routes) -> None:
        if routes.matched or routes.canary_weight not in (0, 100) or routes.mirrored:
            raise UnsupportedRoutes(
                f"provider kubernetes switches all traffic at once (asked for {routes.primary_weight}/"
                f"{routes.canary_weight}{', matched' if routes.matched else ''}"
                f"{', mirrored' if routes.mirrored else ''}); use iterations (blue/green) or a mesh provider"
            )
        side = "canary" if routes.canary_weight == 100 else "primary"
        selector = self._selector(canary, side)
        if self._selector(canary, None) != selector:
            self.core.patch_namespaced_service(
                canary.spec.apex_name(), canary.metadata.namespace, {"spec": {"selector": selector}}
            )

    def get_routes(self, canary: Canary) -> Routes:
        if self._selector(canary, None) == self._selector(canary, "canary"):
            return Routes(primary_weight=0, canary_weight=100)
        return Routes()

    def finalize(self, canary: Canary) -> None:
        """revertOnDeletion hands the apex back to the target in the platform's `revert`."""

    def _selector(self, canary: Canary, side: str | None) -> dict[str, str]:
        name = canary.spec.apex_name() + (f"-{side}" if side else "")
        service = self.core.read_namespaced_service(name, canary.metadata.namespace)
        return dict(service.spec.selector or {})
