"""Acceptance: the built-in load generator (`metadata.type: load`) holds its requested rate within 10%.

The load is started the way a canary starts it (a webhook through controller.hooks) and measured where it
lands: a real HTTP server counting arrivals per second.
"""

from __future__ import annotations

import shutil
import signal
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from controller.api.canary import CanaryWebhook
from controller.hooks import HookSubject, call_webhook, payload
from controller.loadtester.hey import hey_load
from controller.loadtester.load import LoadSpecError
from tests.harness.net import free_port, wait_for_http
from tests.harness.poll import wait_until
from tests.harness.processes import python_module, start, stop
from tests.integration.loadtester.conftest import jobs
from tests.integration.loadtester.counter import Counter, counting

APP = Path(__file__).resolve().parents[3] / "examples" / "app" / "app.py"
PODINFO = HookSubject(name="podinfo", namespace="test", phase="Progressing", checksum="abc")


@pytest.fixture
def target() -> Iterator[Counter]:
    with counting() as counter:
        yield counter


def start_load(loadtester: str, **metadata: str) -> tuple[int, str]:
    webhook = CanaryWebhook.model_validate(
        {"name": "load", "type": "rollout", "url": loadtester + "/", "metadata": {"type": "load", **metadata}}
    )
    result = call_webhook(webhook, payload(webhook, PODINFO))
    return result.status or 0, result.message


def test_holds_200_requests_per_second_within_ten_percent(loadtester: str, target: Counter) -> None:
    began = time.monotonic()
    status, message = start_load(loadtester, url=target.url + "/", rate="200", duration="3s", concurrency="8")
    assert (status, message) == (202, "load started")
    assert time.monotonic() - began < 1.0, "the hook must not wait for the load"
    wait_until(lambda: jobs(loadtester)[0]["state"] != "running", timeout=15, what="the load to finish")
    [job] = jobs(loadtester)
    assert job["state"] == "succeeded", job
    assert job["codes"] == {"200": 600} and job["errors"] == {}

    assert 540 <= target.count() <= 660
    per_second = target.per_second()
    assert len(per_second) in (2, 3), per_second
    assert all(180 <= count <= 220 for count in per_second), per_second
    span = target.arrivals[-1] - target.arrivals[0]
    assert 2.7 <= span <= 3.3
    print(
        f"load_rate_requested=200 delivered_per_second={per_second} total={target.count()} span={span:.3f}s"
    )


def test_load_is_deduplicated_while_running_and_sends_method_headers_and_body(
    loadtester: str, target: Counter
) -> None:
    spec = {
        "url": target.url + "/hit?x=1",
        "rate": "20",
        "duration": "1s",
        "method": "POST",
        "headers": "X-Canary: insider\nAuthorization: Bearer t",
        "body": '{"hello": "world"}',
    }
    assert start_load(loadtester, **spec) == (202, "load started")
    assert start_load(loadtester, **spec) == (202, "load already running")
    wait_until(lambda: jobs(loadtester)[0]["state"] == "succeeded", timeout=10, what="the load to finish")
    assert target.count() == 20
    assert set(target.methods) == {"POST"}
    assert {(h["X-Canary"], h["Authorization"], h["Content-Length"]) for h in target.headers} == {
        ("insider", "Bearer t", "18")
    }
    assert start_load(loadtester, **spec) == (202, "load started"), "a finished load can start again"


def test_bad_load_specs_are_refused_naming_the_key(loadtester: str, target: Counter) -> None:
    assert start_load(loadtester, url="ftp://x", rate="10") == (
        400,
        "metadata.url must be an http(s) URL, got 'ftp://x'",
    )
    assert start_load(loadtester, url=target.url)[1] == "metadata.rate is required"
    assert start_load(loadtester, url=target.url, rate="fast")[1] == "metadata.rate: not a number: 'fast'"
    assert "metadata.duration" in start_load(loadtester, url=target.url, rate="1", duration="soon")[1]
    assert "metadata.headers" in start_load(loadtester, url=target.url, rate="1", headers="nocolon")[1]


def test_sigterm_stops_a_running_load_and_exits_zero(target: Counter, tmp_path: Path) -> None:
    port = free_port()
    proc = start(python_module("controller.cli.loadtester", "--port", str(port)), tmp_path / "lt.log")
    try:
        base = f"http://127.0.0.1:{port}"
        wait_for_http(base + "/healthz")
        assert start_load(base, url=target.url, rate="50", duration="1m")[0] == 202
        wait_until(lambda: target.count() >= 10, what="load to arrive")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
        stopped_at = target.count()
        with pytest.raises(httpx.ConnectError):
            httpx.get(base + "/healthz", timeout=2)
        assert stopped_at < 50 * 10, "the load outlived the loadtester"
    finally:
        stop(proc)


def test_metrics_count_finished_jobs(loadtester: str, target: Counter) -> None:
    start_load(loadtester, url=target.url, rate="10", duration="200ms")
    wait_until(lambda: jobs(loadtester)[0]["state"] == "succeeded", what="the load to finish")
    text = httpx.get(loadtester + "/metrics", timeout=5).text
    assert 'sluice_loadtester_jobs_total{outcome="succeeded",type="load"} 1.0' in text


@pytest.mark.skipif(shutil.which("hey") is not None, reason="hey is installed: the loadtester runs it")
def test_flaggers_hey_commands_run_on_the_built_in_generator(loadtester: str, target: Counter) -> None:
    command = f"hey -z 1s -q 10 -c 2 -m POST -H 'X-Canary: insider' -d hello {target.url}/"
    reply = httpx.post(
        loadtester, json={"name": "podinfo", "namespace": "test", "metadata": {"cmd": command}}
    )
    assert (reply.status_code, reply.text) == (
        202,
        "load started (hey is not installed: built-in load generator)",
    )
    wait_until(lambda: jobs(loadtester)[0]["state"] == "succeeded", timeout=10, what="the load to finish")
    assert target.count() == 20
    assert set(target.methods) == {"POST"}
    assert {(h["X-Canary"], h["Content-Type"]) for h in target.headers} == {("insider", "text/html")}

    unbounded = {"name": "podinfo", "namespace": "test", "metadata": {"cmd": f"hey -n 100 {target.url}/"}}
    refused = httpx.post(loadtester, json=unbounded)
    assert refused.status_code == 400 and "add -q" in refused.text


def test_hey_flags_map_to_a_load_spec() -> None:
    spec = hey_load("hey -n 100 -q 5 -c 4 -t 3 -host podinfo.test -A application/json http://127.0.0.1:1/x")
    assert (spec.rate, spec.duration, spec.concurrency, spec.timeout) == (20.0, 5.0, 4, 3.0)
    assert spec.headers == {"Host": "podinfo.test", "Accept": "application/json"}
    assert hey_load("hey -z=2m -q=1 -c=1 -disable-keepalive http://127.0.0.1:1/").duration == 120.0
    with pytest.raises(LoadSpecError, match="-o is not supported"):
        hey_load("hey -z 1m -q 1 -o csv http://127.0.0.1:1/")


def test_a_target_too_slow_for_the_concurrency_shows_as_lag_not_as_a_silent_rate(
    loadtester: str, tmp_path: Path
) -> None:
    port = free_port()
    app = start([sys.executable, str(APP), "--port", str(port), "--latency", "100ms"], tmp_path / "app.log")
    try:
        wait_for_http(f"http://127.0.0.1:{port}/version")
        # 2 connections x 100 ms per request = 20 req/s at most, for 40 req/s requested.
        start_load(loadtester, url=f"http://127.0.0.1:{port}/", rate="40", duration="1s", concurrency="2")
        wait_until(lambda: jobs(loadtester)[0]["state"] == "succeeded", timeout=10, what="the load to finish")
    finally:
        stop(app)
    [job] = jobs(loadtester)
    assert job["codes"] == {"200": 40}
    assert job["rate"] < 25
    assert job["max_lag_ms"] > 500
