"""Trace headers in both formats, and the Prometheus text the hot-path cells render to."""

from __future__ import annotations

import re

from mesh.proxy.metrics import Metrics
from mesh.proxy.tracing import trace_headers


def lines(raw: bytes) -> dict[str, str]:
    return dict(line.split(": ", 1) for line in raw.decode().strip().split("\r\n"))


def test_a_new_trace_when_none_and_formats_derived_from_each_other():
    fresh = lines(trace_headers({}))
    assert re.fullmatch(r"00-([0-9a-f]{32})-([0-9a-f]{16})-01", fresh["traceparent"])
    assert fresh["x-b3-traceid"] == fresh["traceparent"][3:35]
    from_w3c = lines(
        trace_headers({b"traceparent": b"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00"})
    )
    assert from_w3c == {
        "x-b3-traceid": "0af7651916cd43dd8448eb211c80319c",
        "x-b3-spanid": "b7ad6b7169203331",
        "x-b3-sampled": "0",
    }
    from_b3 = lines(
        trace_headers({b"x-b3-traceid": b"463ac35c9f6413ad", b"x-b3-spanid": b"a2fb4a1d1a96d312"})
    )
    assert from_b3["traceparent"] == "00-0000000000000000463ac35c9f6413ad-a2fb4a1d1a96d312-01"
    both = {b"traceparent": b"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", b"b3": b"x"}
    assert trace_headers(both) == b""


def test_metrics_render_counters_histogram_and_gauges():
    metrics = Metrics()
    cell = metrics.route("default", "podinfo", "podinfo-canary", "default")
    cell.observe(200, 0.003)
    cell.observe(503, 0.2)
    cell.retries += 1
    metrics.in_flight_gauge("default", "podinfo").value = 2
    text = metrics.render().decode()
    labels = 'namespace="default",service="podinfo",backend="podinfo-canary",route="default"'
    assert f'sluice_proxy_requests_total{{{labels},status_class="5xx"}} 1' in text
    assert f'sluice_proxy_request_duration_seconds_bucket{{{labels},le="0.005"}} 1' in text
    assert f'sluice_proxy_request_duration_seconds_bucket{{{labels},le="+Inf"}} 2' in text
    assert f"sluice_proxy_request_duration_seconds_count{{{labels}}} 2" in text
    assert f"sluice_proxy_retries_total{{{labels}}} 1" in text
    assert 'sluice_proxy_requests_in_flight{namespace="default",service="podinfo"} 2' in text
