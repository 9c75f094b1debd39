"""examples/mesh-gateway: the manifests are what docs/mesh.md says, and translate without problems."""

from __future__ import annotations

from pathlib import Path

import yaml

from controller.api.canary import Canary
from mesh.control.translate import node_config
from mesh.proxy.config import parse_config
from tests.unit.mesh_control.objects import endpoint_slice, service, snapshot

EXAMPLES = Path(__file__).parents[3] / "examples" / "mesh-gateway"


def documents(name: str) -> list[dict]:
    return [d for d in yaml.safe_load_all((EXAMPLES / name).read_text()) if d]


def cluster(*objects: dict):
    canary = next(d for d in documents("podinfo.yaml") if d["kind"] == "Canary")
    apex = service("podinfo", 9898, 9898, annotations=canary["spec"]["service"]["apex"]["annotations"],
                   namespace="shop")  # fmt: skip
    return snapshot(
        apex,
        service("podinfo-primary", 9898, "http", namespace="shop"),
        service("podinfo-canary", 9898, "http", namespace="shop"),
        endpoint_slice("podinfo-primary", ["198.18.0.1"], 9898, namespace="shop"),
        endpoint_slice("podinfo-canary", ["198.18.0.2"], 9898, namespace="shop"),
        *objects,
    )


def test_the_canary_is_valid_and_uses_the_bundled_mesh():
    canary = Canary.model_validate(next(d for d in documents("podinfo.yaml") if d["kind"] == "Canary"))
    assert canary.spec.provider == "sluice"


def test_the_http_route_example_translates_cleanly():
    result = node_config(cluster(*documents("http-route.yaml")), "shop")
    assert result.problems == []
    (live,) = result.config.services
    assert live.split == {"podinfo-primary": 80, "podinfo-canary": 20}
    assert [r.name for r in live.routes] == ["rule-0"] and live.mirror.percent == 10
    assert live.resilience.retries.attempts == 2 and live.resilience.timeout == 10.0  # route timeout wins


def test_the_traffic_split_and_target_examples_translate_cleanly():
    result = node_config(cluster(*documents("traffic-split.yaml"), *documents("traffic-target.yaml")), "shop")
    assert result.problems == []
    (live,) = result.config.services
    assert live.split == {"podinfo-primary": 1} and len(live.routes[0].match) == 2
    assert [t.name for t in result.config.traffic_targets] == ["podinfo"]
    parse_config(result.document()["config"])
