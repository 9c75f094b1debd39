"""The admin API: atomic config replacement, weights, windowed stats, metrics, listeners following config."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections import Counter

import pytest

from mesh.proxy.admin_client import AdminError
from tests.harness.net import free_port, http_ok
from tests.harness.poll import wait_until
from tests.integration.proxy.conftest import Client, canary_service


def test_a_bad_config_is_refused_with_the_field_named_and_the_old_one_keeps_serving(upstream, proxy):
    running = proxy({"services": [canary_service(upstream("primary"), upstream("canary"))]})
    good = running.admin.get_config()
    bad = {**good, "services": [{**good["services"][0], "split": {"podinfo-nope": 100}}]}
    with pytest.raises(AdminError) as refused:
        running.admin.put_config(bad)
    assert refused.value.status == 400
    assert "services[0].split" in refused.value.message and "podinfo-nope" in refused.value.message
    with pytest.raises(AdminError) as typo:
        running.admin.put_config({"services": [{**good["services"][0], "balancing": "fastest"}]})
    assert "services.0.balancing" in typo.value.message
    assert running.admin.get_config() == good
    assert running.client().request().backend == "primary"


def test_set_weights_round_trips_and_moves_traffic(upstream, proxy):
    service = canary_service(upstream("primary"), upstream("canary"))
    service["routes"] = [
        {
            "name": "ab",
            "match": [{"headers": {"x-user": {"exact": "beta"}}}],
            "split": {"podinfo-primary": 100, "podinfo-canary": 0},
        }
    ]
    running = proxy({"services": [service]})
    client = running.client()
    applied = running.admin.set_weights("podinfo", 0, 100)
    assert applied["primary_weight"] == 0 and applied["canary_weight"] == 100 and not applied["matched"]
    assert {client.request().backend for _ in range(20)} == {"canary"}
    running.admin.set_weights("podinfo", 0, 100, matched=True, mirrored=False)
    assert running.admin.get_routes("podinfo")["matched"] is True
    assert {client.request(x_user="beta").backend for _ in range(20)} == {"canary"}
    assert {client.request().backend for _ in range(20)} == {"primary"}
    routes = running.admin.set_weights("podinfo", 80, 20, mirrored=True, mirror_weight=50)
    assert routes == {
        "service": "podinfo",
        "namespace": "default",
        "primary_weight": 80,
        "canary_weight": 20,
        "mirrored": True,
        "mirror_weight": 50,
        "matched": False,
    }
    with pytest.raises(AdminError) as refused:
        running.admin.set_weights("podinfo", 80, 30)
    assert refused.value.status == 400 and "sum to 100" in refused.value.message
    with pytest.raises(AdminError) as unknown:
        running.admin.set_weights("nope", 100, 0)
    assert unknown.value.status == 404


def test_weight_changes_under_continuous_load_fail_no_request(upstream, proxy):
    running = proxy({"services": [canary_service(upstream("primary"), upstream("canary"))]})
    stop = threading.Event()
    total: Counter = Counter()
    lock = threading.Lock()

    def load() -> None:
        client = Client(running.port)
        while not stop.is_set():
            try:
                outcome: object = client.request().status
            except OSError as exc:
                outcome = repr(exc)
            with lock:
                total[outcome] += 1

    threads = [threading.Thread(target=load) for _ in range(4)]
    for thread in threads:
        thread.start()
    try:
        for weight in (0, 10, 20, 50, 80, 100, 0, 30, 100, 0):
            served = total.total()
            wait_until(
                lambda served=served: total.total() >= served + 25, timeout=10, what="25 more requests"
            )
            running.admin.set_weights("podinfo", 100 - weight, weight)
            running.admin.put_config(running.admin.get_config())  # whole-config swaps too
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=30)
    assert set(total) == {200}, total
    assert total[200] >= 250


def test_window_stats_report_counts_success_rate_and_latency(upstream, proxy):
    service = canary_service(upstream("primary"), upstream("canary"))
    service["split"] = {"podinfo-primary": 0, "podinfo-canary": 100}
    running = proxy({"services": [service]})
    client = running.client()
    for _ in range(18):
        client.request()
    client.request(path="/?status=500")
    client.request(path="/?status=404")
    stats = running.admin.window("podinfo", "podinfo-canary", 60)
    assert stats["service"] == "podinfo" and stats["backend"] == "podinfo-canary" and stats["seconds"] == 60
    assert stats["requests"] == 20 and stats["errors"] == 1 and stats["success_rate"] == 95.0
    latency = stats["latency_ms"]
    assert 0 < latency["p50"] <= latency["p90"] <= latency["p99"] < 1000
    empty = running.admin.window("podinfo", "podinfo-primary", 60)
    assert empty["requests"] == 0 and empty["success_rate"] is None and empty["latency_ms"] is None
    with pytest.raises(AdminError) as missing:
        running.admin.window("podinfo", "podinfo-nope", 60)
    assert missing.value.status == 404 and "podinfo-nope" in missing.value.message
    metrics = running.admin.metrics()
    assert (
        'sluice_proxy_requests_total{namespace="default",service="podinfo",backend="podinfo-canary",'
        'route="default",status_class="2xx"} 18'
    ) in metrics
    for family in (
        "sluice_proxy_request_duration_seconds_bucket",
        "sluice_proxy_requests_in_flight",
        "sluice_proxy_retries_total",
        "sluice_proxy_ejections_total",
        "sluice_proxy_mirrored_requests_total",
    ):
        assert family in metrics


def test_listeners_open_and_close_as_services_come_and_go(upstream, proxy):
    primary, canary = upstream("primary"), upstream("canary")
    running = proxy({"services": [canary_service(primary, canary)]})
    config = running.admin.get_config()
    second = canary_service(primary, canary, name="other", port=free_port())
    running.admin.put_config({**config, "services": [*config["services"], second]})
    assert http_ok(f"http://127.0.0.1:{second['port']}/")
    running.admin.put_config(config)
    wait_until(
        lambda: not http_ok(f"http://127.0.0.1:{second['port']}/", timeout=0.5),
        timeout=5,
        what="the removed listener to close",
    )
    assert Client(running.port).request().status == 200


def test_the_command_refuses_a_bad_config_file_with_one_clear_line(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(
        "services:\n  - name: a\n    port: 70000\n    backends: {a: {endpoints: ['x']}}\n    split: {a: 1}\n"
    )
    done = subprocess.run(
        [sys.executable, "-m", "controller.cli.proxy", "--config", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0
    assert "services.0.port" in done.stderr and "65535" in done.stderr


def test_a_config_change_never_fails_a_request_in_flight(upstream, proxy):
    primary, canary = upstream("primary"), upstream("canary")
    running = proxy({"services": [canary_service(primary, canary)]})
    outcome: list[int] = []
    slow = threading.Thread(
        target=lambda: outcome.append(Client(running.port).request(path="/?delay=1").status)
    )
    slow.start()
    wait_until(
        lambda: (
            "sluice_proxy_requests_in_flight" in running.admin.metrics()
            and 'service="podinfo"} 1' in running.admin.metrics()
        ),
        timeout=5,
        what="the slow request in flight",
    )
    running.admin.set_weights("podinfo", 0, 100)
    config = running.admin.get_config()
    config["services"][0]["backends"]["podinfo-primary"]["endpoints"] = [canary]
    running.admin.put_config(config)
    slow.join(timeout=10)
    assert outcome == [200]


def test_access_log_writes_one_json_line_per_request(upstream, proxy, tmp_path):
    log = tmp_path / "access.jsonl"
    service = canary_service(upstream("primary"), upstream("canary"))
    running = proxy({"services": [service], "access_log": {"enabled": True, "path": str(log)}})
    client = running.client()
    for _ in range(3):
        client.request(path="/hello?x=1")

    def logged() -> list[dict]:
        lines = log.read_text().splitlines() if log.exists() else []
        return [json.loads(line) for line in lines] if len(lines) == 3 else []

    records = wait_until(logged, timeout=5, what="three access log lines")
    assert {(r["service"], r["route"], r["backend"], r["path"], r["status"]) for r in records} == {
        ("podinfo", "default", "podinfo-primary", "/hello?x=1", 200)
    }
