"""Per-route resilience decisions: retries, timeouts, fault injection; outlier ejection per endpoint.

These are pure decisions over small state, kept apart from the I/O in server.py so each knob can be read
(and tested) on its own. Semantics follow Envoy (mesh.md §2.5): retries only for idempotent methods unless
told, 5xx counted per endpoint with exponential ejection time, faults drawn independently per request.
"""

from __future__ import annotations

import random
import time

from mesh.proxy.config import Outlier, RouteResilience
from mesh.proxy.http1 import IDEMPOTENT
from mesh.proxy.upstream_pool import EndpointPool


class RoutePolicy:
    """One route's knobs, read per request (resilience.pxd makes them read-only C fields when compiled)."""

    def __init__(
        self,
        timeout: float | None,  # whole exchange, retries included; None = no limit
        per_try_timeout: float | None,
        attempts: int,  # total tries, first one included
        retry_on: frozenset[str],
        non_idempotent: bool,
        abort_percent: float,
        abort_status: int,
        delay_percent: float,
        delay_seconds: float,
    ) -> None:
        self.timeout = timeout
        self.per_try_timeout = per_try_timeout
        self.attempts = attempts
        self.retry_on = retry_on
        self.non_idempotent = non_idempotent
        self.abort_percent = abort_percent
        self.abort_status = abort_status
        self.delay_percent = delay_percent
        self.delay_seconds = delay_seconds

    @classmethod
    def from_config(cls, config: RouteResilience) -> RoutePolicy:
        fault = config.fault
        return cls(
            timeout=float(config.timeout) or None,
            per_try_timeout=float(config.retries.per_try_timeout or 0) or None,
            attempts=1 + config.retries.attempts,
            retry_on=frozenset(config.retries.retry_on),
            non_idempotent=config.retries.non_idempotent,
            abort_percent=fault.abort.percent if fault and fault.abort else 0.0,
            abort_status=fault.abort.status if fault and fault.abort else 503,
            delay_percent=fault.delay.percent if fault and fault.delay else 0.0,
            delay_seconds=float(fault.delay.duration) if fault and fault.delay else 0.0,
        )

    def may_retry(self, method: str, attempt: int, failure: str) -> bool:
        """Whether try number `attempt` (1-based), which failed with `failure`, gets another try.

        `failure` is an UpstreamError kind ("connect-failure", "reset", "timeout", ...) or the
        condition a response status meets ("5xx", "gateway-error").
        """
        if attempt >= self.attempts:
            return False
        if not self.non_idempotent and method not in IDEMPOTENT:
            return False
        if failure in self.retry_on:
            return True
        # A per-try timeout or a 502/503/504 is a gateway error, which "5xx" includes.
        return failure in ("gateway-error", "timeout") and bool(self.retry_on & {"5xx", "gateway-error"})

    def draw_abort(self) -> int | None:
        if self.abort_percent and random.random() * 100 < self.abort_percent:
            return self.abort_status
        return None

    def draw_delay(self) -> float:
        if self.delay_percent and random.random() * 100 < self.delay_percent:
            return self.delay_seconds
        return 0.0


def status_failure(status: int) -> str | None:
    """The retry-on condition a response status meets, if any."""
    if status in (502, 503, 504):
        return "gateway-error"
    if status >= 500:
        return "5xx"
    return None


class OutlierDetector:
    """Eject an endpoint after N consecutive failures, for base x times-ejected (capped) seconds."""

    __slots__ = ("base", "consecutive", "maximum")

    def __init__(self, config: Outlier) -> None:
        self.consecutive = config.consecutive_5xx
        self.base = float(config.base_ejection)
        self.maximum = float(config.max_ejection)

    def record(self, endpoint: EndpointPool, failed: bool) -> bool:
        """Note one outcome; True when this failure ejected the endpoint."""
        if not failed:
            endpoint.consecutive_failures = 0
            return False
        if not self.consecutive:
            return False
        endpoint.consecutive_failures += 1
        now = time.monotonic()
        if endpoint.consecutive_failures < self.consecutive or endpoint.ejected_until > now:
            return False
        endpoint.times_ejected += 1
        endpoint.ejected_until = now + min(self.base * endpoint.times_ejected, self.maximum)
        endpoint.consecutive_failures = 0
        return True
