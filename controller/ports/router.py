"""Router port: Flagger's four-method seam (pkg/router/router.go), as a Protocol."""

from __future__ import annotations

from typing import Protocol

from controller.api.canary import Canary
from controller.api.routes import Routes


class Router(Protocol):
    def reconcile(self, canary: Canary) -> None:
        """Create or correct the routing objects; never resets weights of a rollout in flight."""

    def set_routes(self, canary: Canary, routes: Routes) -> None:
        """Apply weights, mirroring and the A/B match."""

    def get_routes(self, canary: Canary) -> Routes:
        """The weights live in the data plane right now."""

    def finalize(self, canary: Canary) -> None:
        """Undo what reconcile made, for revertOnDeletion."""
