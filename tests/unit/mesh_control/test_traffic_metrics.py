"""SMI TrafficMetrics from the proxy's windows, the admin endpoint serving them, and the status section."""

from __future__ import annotations

import asyncio
import json
import urllib.request

from controller.cli.status_view import to_text
from controller.cli.traffic_view import fetch_traffic, traffic_rows, traffic_section
from mesh.proxy.app import Proxy
from mesh.proxy.config import parse_config
from mesh.proxy.traffic_metrics import split_metrics
from mesh.proxy.windows import Windows
from tests.harness.net import free_port

SERVICE = {
    "name": "podinfo",
    "namespace": "shop",
    "port": 9898,
    "backends": {
        "podinfo-primary": {"endpoints": ["127.0.0.1:1"]},
        "podinfo-canary": {"endpoints": ["127.0.0.1:2"]},
    },
    "split": {"podinfo-primary": 90, "podinfo-canary": 10},
}


def recorded() -> Windows:
    windows = Windows()
    primary, canary = (
        windows.window("shop", "podinfo", "podinfo-primary"),
        windows.window("shop", "podinfo", "podinfo-canary"),
    )
    for _ in range(90):
        primary.record(1000, 2.0, False)
    for i in range(10):
        canary.record(1000, 8.0, i < 3)
    return windows


def test_one_item_per_backend_in_smi_shape():
    service = parse_config({"services": [SERVICE]}).services[0]
    items = split_metrics(service, recorded(), 60, now_second=1001)
    canary = next(i for i in items if i["backend"]["name"] == "podinfo-canary")
    assert canary["kind"] == "TrafficMetrics" and canary["apiVersion"] == "metrics.smi-spec.io/v1alpha1"
    assert canary["resource"] == {"kind": "TrafficSplit", "namespace": "shop", "name": "podinfo"}
    assert canary["edge"] == {
        "direction": "to",
        "side": "client",
        "resource": {"kind": "Service", "namespace": "shop", "name": "podinfo-canary"},
    }
    assert canary["backend"] == {"apex": "podinfo", "name": "podinfo-canary", "weight": 10}
    assert canary["window"] == "60s"
    values = {m["name"]: m for m in canary["metrics"]}
    assert values["success_count"]["value"] == "7" and values["failure_count"]["value"] == "3"
    assert values["p99_response_latency"]["unit"] == "ms"
    assert 7.2 <= float(values["p50_response_latency"]["value"]) <= 8.8  # log buckets: within 10%
    silent = split_metrics(service, Windows(), 60, now_second=1001)[0]
    assert {m["name"]: m["value"] for m in silent["metrics"]}["p50_response_latency"] == ""


def test_status_section_draws_a_row_per_backend():
    service = parse_config({"services": [SERVICE]}).services[0]
    document = {"items": split_metrics(service, recorded(), 60, now_second=1001)}
    rows = {row["backend"]: row for row in traffic_rows(document)}
    assert rows["podinfo-canary"]["success_rate"] == 70.0 and rows["podinfo-primary"]["failure"] == 0
    text = to_text(traffic_section(document)[2])
    assert "podinfo-canary" in text and "10%" in text and "70%" in text and " ms" in text
    assert traffic_section({"items": []}) == []


def test_the_admin_api_serves_the_list_and_the_status_view_reads_it():
    listen = free_port()

    async def scenario() -> None:
        proxy = Proxy(parse_config({"services": [{**SERVICE, "port": listen}]}), admin_port=0)
        await proxy.start()
        loop = asyncio.get_running_loop()
        try:
            admin = f"http://127.0.0.1:{proxy.admin_port}"
            document = await loop.run_in_executor(None, fetch_traffic, admin, "shop", "podinfo")
            assert document["kind"] == "TrafficMetricsList" and len(document["items"]) == 2
            assert await loop.run_in_executor(None, fetch_traffic, admin, "shop", "nope") is None
            with await loop.run_in_executor(
                None, urllib.request.urlopen, f"{admin}/traffic-metrics"
            ) as reply:
                assert len(json.loads(reply.read())["items"]) == 2
        finally:
            await proxy.stop()

    asyncio.run(scenario())
