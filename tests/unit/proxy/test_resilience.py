"""Retry eligibility, fault draws and outlier ejection as pure decisions."""

from __future__ import annotations

import random
import time

from mesh.proxy.config import Outlier, RouteResilience
from mesh.proxy.resilience import OutlierDetector, RoutePolicy, status_failure
from mesh.proxy.upstream_pool import EndpointPool


def test_retries_only_for_idempotent_methods_and_listed_conditions():
    policy = RoutePolicy.from_config(
        RouteResilience.model_validate({"retries": {"attempts": 2, "retry_on": ["5xx"]}})
    )
    assert policy.attempts == 3
    assert policy.may_retry("GET", 1, "5xx") and policy.may_retry("GET", 2, "gateway-error")
    assert not policy.may_retry("GET", 3, "5xx")
    assert not policy.may_retry("POST", 1, "5xx")
    assert not policy.may_retry("GET", 1, "connect-failure")
    assert policy.may_retry("GET", 1, "timeout")
    told = RoutePolicy.from_config(
        RouteResilience.model_validate({"retries": {"attempts": 1, "non_idempotent": True}})
    )
    assert told.may_retry("POST", 1, "reset")
    assert (
        status_failure(503) == "gateway-error"
        and status_failure(500) == "5xx"
        and status_failure(404) is None
    )


def test_fault_draws_follow_the_percentages():
    random.seed(3)
    policy = RoutePolicy.from_config(
        RouteResilience.model_validate(
            {"fault": {"abort": {"percent": 20, "status": 429}, "delay": {"percent": 100, "duration": "5ms"}}}
        )
    )
    aborts = [policy.draw_abort() for _ in range(10_000)]
    assert set(aborts) == {None, 429} and 1800 < aborts.count(429) < 2200
    assert policy.draw_delay() == 0.005


def test_consecutive_failures_eject_with_growing_capped_backoff():
    endpoint = EndpointPool("e", "127.0.0.1", 1, 1.0, 1.0)
    detector = OutlierDetector(Outlier(consecutive_5xx=2, base_ejection=10, max_ejection=15))
    assert not detector.record(endpoint, True)
    assert not detector.record(endpoint, False)  # a success resets the count
    assert not detector.record(endpoint, True)
    assert detector.record(endpoint, True)
    first = endpoint.ejected_until - time.monotonic()
    assert 9 < first <= 10
    endpoint.ejected_until = 0
    detector.record(endpoint, True)
    assert detector.record(endpoint, True)
    assert 14 < endpoint.ejected_until - time.monotonic() <= 15  # 2 x 10 s, capped at 15 s
