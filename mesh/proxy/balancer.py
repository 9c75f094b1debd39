"""Choosing an endpoint inside one backend: least-request (power of two choices) or round-robin.

Ejected endpoints are skipped; when every endpoint is ejected all of them are used again (Envoy's
"panic" mode), because sending somewhere beats refusing everything.
"""

from __future__ import annotations

import random
import time

from mesh.proxy.upstream_pool import EndpointPool


class Balancer:

    def __init__(self, endpoints: list[EndpointPool], policy: str) -> None:
        self.endpoints = endpoints
        # With a single endpoint there is nothing to choose (ejected or not): callers skip `pick`.
        self.only = endpoints[0] if len(endpoints) == 1 else None
        self.next_index = 0
        self.pick = self._round_robin if policy == "round-robin" else self._least_request

    def _healthy(self) -> list[EndpointPool]:
        endpoints = self.endpoints
        if len(endpoints) == 1:
            return endpoints
        now = time.monotonic()
        healthy = [endpoint for endpoint in endpoints if endpoint.ejected_until <= now]
        return healthy or endpoints

    def _least_request(self) -> EndpointPool | None:
        candidates = self._healthy()
        if len(candidates) <= 1:
            return candidates[0] if candidates else None
        first, second = random.sample(candidates, 2)
        return first if first.active <= second.active else second

    def _round_robin(self) -> EndpointPool | None:
        candidates = self._healthy()
        if not candidates:
            return None
        self.next_index = (self.next_index + 1) % len(candidates)
        return candidates[self.next_index]
