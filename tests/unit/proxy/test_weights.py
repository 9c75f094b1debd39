"""The router seam: set weights, mirror and A/B on a service, and read them back."""

from __future__ import annotations

import pytest

from mesh.proxy.config import parse_config
from mesh.proxy.weights import RoutesBody, apply_routes, read_routes


def podinfo(routes=()):
    return parse_config(
        {
            "services": [
                {
                    "name": "podinfo",
                    "port": 1,
                    "backends": {
                        "podinfo-primary": {"endpoints": ["127.0.0.1:1"]},
                        "podinfo-canary": {"endpoints": ["127.0.0.1:2"]},
                    },
                    "split": {"podinfo-primary": 100},
                    "routes": list(routes),
                }
            ]
        }
    ).services[0]


@pytest.mark.parametrize(
    "body",
    [
        {"primary_weight": 90, "canary_weight": 10},
        {"primary_weight": 50, "canary_weight": 50, "mirrored": True, "mirror_weight": 30},
        {"primary_weight": 0, "canary_weight": 100, "matched": True},
        {"primary_weight": 100, "canary_weight": 0},
    ],
)
def test_set_then_read_round_trips(body):
    ab = [{"name": "ab", "match": [{"headers": {"x": {"exact": "1"}}}], "split": {"podinfo-primary": 1}}]
    routes = RoutesBody.model_validate(body)
    updated = apply_routes(podinfo(ab), routes)
    assert read_routes(updated) == routes.model_dump()


def test_matched_sends_only_matching_requests_to_the_canary():
    ab = [{"name": "ab", "match": [{"headers": {"x": {"exact": "1"}}}], "split": {"podinfo-primary": 1}}]
    updated = apply_routes(podinfo(ab), RoutesBody(primary_weight=0, canary_weight=100, matched=True))
    assert updated.split == {"podinfo-primary": 100, "podinfo-canary": 0}
    assert updated.routes[0].split == {"podinfo-primary": 0, "podinfo-canary": 100}
    with pytest.raises(ValueError, match="no match routes"):
        apply_routes(podinfo(), RoutesBody(primary_weight=0, canary_weight=100, matched=True))
