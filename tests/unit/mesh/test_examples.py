"""examples/mesh stays true: its proxy configs load, and its TrafficTargets become exactly what the api
proxy's config says the control plane sends."""

from __future__ import annotations

from pathlib import Path

import yaml

from mesh.control.access import traffic_target
from mesh.proxy.config import load_config

EXAMPLES = Path(__file__).parents[3] / "examples" / "mesh"


def test_the_proxy_configs_load() -> None:
    api = load_config(EXAMPLES / "api-proxy.yaml")
    assert api.services[0].tls and api.tls is not None and api.tls.files is not None
    web = load_config(EXAMPLES / "web-proxy.yaml")
    assert web.services[0].backends["api"].identity == "spiffe://cluster.local/ns/shop/sa/api"


def test_the_manifests_translate_into_the_api_proxys_traffic_targets() -> None:
    documents = list(yaml.safe_load_all((EXAMPLES / "traffic-target.yaml").read_text()))
    groups = {d["metadata"]["name"]: d for d in documents if d["kind"] == "HTTPRouteGroup"}
    problems: list[str] = []
    translated = [traffic_target(d, groups, problems) for d in documents if d["kind"] == "TrafficTarget"]
    assert problems == []
    configured = yaml.safe_load((EXAMPLES / "api-proxy.yaml").read_text())["traffic_targets"]
    assert translated == configured
