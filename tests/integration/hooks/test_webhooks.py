"""controller.hooks against real local HTTP(S) receivers: payload, status codes, retries, timeout, TLS."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from controller.api.canary import CanaryWebhook
from controller.hooks import (
    HookSubject,
    call_webhook,
    passed,
    payload,
    rollback_signalled,
    run_hooks,
)
from tests.harness.net import free_port
from tests.integration.hooks.receiver import Receiver, Reply, receiving

SUBJECT = HookSubject(name="podinfo", namespace="test", phase="Progressing", checksum="c0ffee")
FAST = 0.02  # backoff for tests: the first wait between attempts


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with receiving() as server:
        yield server


def hook(url: str, **fields: object) -> CanaryWebhook:
    return CanaryWebhook.model_validate({"name": "h", "url": url, **fields})


def call(webhook: CanaryWebhook):
    return call_webhook(webhook, payload(webhook, SUBJECT), backoff=FAST)


def test_posts_flaggers_payload_as_json(receiver: Receiver) -> None:
    url = receiver.script("/hook", Reply(200, "fine\n"))
    result = call(hook(url, type="pre-rollout", metadata={"cmd": "echo"}))
    assert (result.ok, result.status, result.message, result.attempts) == (True, 200, "fine", 1)
    [request] = receiver.calls("/hook")
    assert request.headers["Content-Type"] == "application/json"
    assert request.json == {
        "name": "podinfo",
        "namespace": "test",
        "phase": "Progressing",
        "checksum": "c0ffee",
        "metadata": {"cmd": "echo"},
    }


@pytest.mark.parametrize(
    ("status", "ok"), [(200, True), (201, True), (202, True), (203, False), (403, False)]
)
def test_success_is_a_status_up_to_202(receiver: Receiver, status: int, ok: bool) -> None:
    result = call(hook(receiver.script("/s", Reply(status, "  the reason  ")), retries=3))
    assert (result.ok, result.status, result.attempts) == (ok, status, 1)
    assert result.message == "the reason"


def test_error_text_is_the_trimmed_body_or_the_status(receiver: Receiver) -> None:
    assert call(hook(receiver.script("/empty", Reply(500, "")))).message == "HTTP 500"
    long = call(hook(receiver.script("/long", Reply(500, "x" * 5000))))
    assert len(long.message) <= 1001


def test_retries_succeed_after_transient_failures(receiver: Receiver) -> None:
    url = receiver.script("/flaky", Reply(500, "down"), Reply(503, "still down"), Reply(200, "up"))
    result = call(hook(url, retries=2))
    assert (result.ok, result.status, result.attempts, result.message) == (True, 200, 3, "up")
    assert len(receiver.calls("/flaky")) == 3


def test_retries_are_bounded_and_the_last_error_is_reported(receiver: Receiver) -> None:
    url = receiver.script("/down", Reply(500, "first"), Reply(502, "second"), Reply(200, "too late"))
    result = call(hook(url, retries=1))
    assert (result.ok, result.status, result.attempts, result.message) == (False, 502, 2, "second")


def test_no_retries_unless_configured_and_never_on_4xx(receiver: Receiver) -> None:
    assert call(hook(receiver.script("/once", Reply(500, "no")))).attempts == 1
    assert call(hook(receiver.script("/bad", Reply(400, "bad")), retries=3)).attempts == 1


def test_retries_back_off_exponentially(receiver: Receiver) -> None:
    url = receiver.script("/slow-recovery", Reply(500), Reply(500), Reply(500), Reply(200))
    webhook = hook(url, retries=3)
    result = call_webhook(webhook, payload(webhook, SUBJECT), backoff=0.1)
    assert result.ok and result.attempts == 4
    assert result.duration >= 0.1 + 0.2 + 0.4


def test_timeout_bounds_the_whole_call_retries_included(receiver: Receiver) -> None:
    url = receiver.script("/hang", Reply(200, "never", delay=10))
    began = time.monotonic()
    result = call(hook(url, timeout="400ms", retries=5))
    elapsed = time.monotonic() - began
    assert (result.ok, result.status) == (False, None)
    assert "timed out after 0.4s" in result.message
    assert 0.4 <= elapsed < 1.2
    assert result.duration == pytest.approx(elapsed, abs=0.05)


def test_a_slow_hook_within_its_timeout_passes(receiver: Receiver) -> None:
    result = call(hook(receiver.script("/slowish", Reply(200, "ok", delay=0.3)), timeout="2s"))
    assert result.ok and result.duration >= 0.3


def test_connection_refused_is_retried_then_reported() -> None:
    result = call(hook(f"http://127.0.0.1:{free_port()}/", retries=2))
    assert (result.ok, result.status, result.attempts) == (False, None, 3)
    assert "ConnectError" in result.message


def test_disable_tls_skips_verification_of_a_self_signed_certificate(tmp_path: Path) -> None:
    with receiving(tls_dir=tmp_path) as server:
        url = server.script("/secure", Reply(200, "secure ok"))
        assert url.startswith("https://")
        refused = call(hook(url))
        assert (refused.ok, refused.status) == (False, None)
        assert "CERTIFICATE_VERIFY_FAILED" in refused.message
        accepted = call(hook(url, disableTLS=True))
        assert (accepted.ok, accepted.status, accepted.message) == (True, 200, "secure ok")


def test_run_hooks_calls_only_its_type_and_stops_at_the_first_failed_gate(receiver: Receiver) -> None:
    hooks = [
        hook(receiver.script("/default", Reply(200)), name="untyped"),
        hook(receiver.script("/gate-a", Reply(403, "closed")), name="a", type="confirm-promotion"),
        hook(receiver.script("/gate-b", Reply(200)), name="b", type="confirm-promotion"),
    ]
    results = run_hooks(hooks, "confirm-promotion", SUBJECT, backoff=FAST)
    assert [(r.name, r.ok, r.message) for r in results] == [("a", False, "closed")]
    assert not passed(results)
    assert receiver.calls("/gate-b") == [] and receiver.calls("/default") == []
    rollout = run_hooks(hooks, "rollout", SUBJECT, backoff=FAST)
    assert [(r.name, r.type, r.ok) for r in rollout] == [("untyped", "rollout", True)] and passed(rollout)


def test_rollback_hooks_stop_at_the_first_one_signalling(receiver: Receiver) -> None:
    hooks = [
        hook(receiver.script("/rb-1", Reply(403)), name="one", type="rollback"),
        hook(receiver.script("/rb-2", Reply(200)), name="two", type="rollback"),
        hook(receiver.script("/rb-3", Reply(200)), name="three", type="rollback"),
    ]
    results = run_hooks(hooks, "rollback", SUBJECT, backoff=FAST)
    assert [(r.name, r.ok) for r in results] == [("one", False), ("two", True)]
    assert rollback_signalled(results)
    assert not rollback_signalled(results[:1])


def test_post_rollout_hooks_all_run_and_carry_mute_alert(receiver: Receiver) -> None:
    hooks = [
        hook(receiver.script("/post-1", Reply(500)), name="one", type="post-rollout", muteAlert=True),
        hook(receiver.script("/post-2", Reply(200)), name="two", type="post-rollout"),
    ]
    results = run_hooks(hooks, "post-rollout", SUBJECT, backoff=FAST)
    assert [(r.name, r.ok, r.mute_alert) for r in results] == [("one", False, True), ("two", True, False)]


def test_a_bad_url_fails_at_once_without_retries() -> None:
    result = call(hook("ftp://127.0.0.1/hook", retries=3))
    assert (result.ok, result.status, result.attempts) == (False, None, 1)
    assert "invalid URL 'ftp://127.0.0.1/hook'" in result.message
