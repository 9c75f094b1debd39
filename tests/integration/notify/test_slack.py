"""Slack through slack-sdk against a local receiver: incoming-webhook bodies and the exact Web API calls
of bot mode (one message per rollout kept current with chat.update, thread replies for warn and error)."""

from __future__ import annotations

import pytest

from controller.notify.endpoint import Endpoint
from controller.notify.slack import SlackBotNotifier, SlackWebhookNotifier, slack_notifier
from controller.ports.notifier import DeliveryError, Notification
from tests.integration.notify.receiver import Answer, Receiver, Request, SlackWebApi


def note(phase: str, severity: str, message: str, weight: int = 0, revision: str = "rev1") -> Notification:
    return Notification(
        canary="podinfo",
        namespace="test",
        phase=phase,
        severity=severity,  # type: ignore[arg-type]
        message=message,
        cluster="prod",
        target="Deployment/podinfo.test",
        canary_weight=weight,
        primary_weight=100 - weight,
        revision=revision,
    )


def test_incoming_webhook_body_is_block_kit_coloured_by_severity() -> None:
    with Receiver() as receiver:
        endpoint = Endpoint(type="slack", name="test/chat", address=f"{receiver.url}/services/T/B/X")
        notifier = slack_notifier(endpoint)
        assert isinstance(notifier, SlackWebhookNotifier)
        status = notifier.post(note("Failed", "error", "Failed checks threshold reached 5", weight=20))
        assert status == 200
        (request,) = receiver.received()
    assert request.path == "/services/T/B/X"
    assert request.headers["content-type"].startswith("application/json")
    body = request.json()
    assert body["username"] == "sluice"
    assert body["channel"] == "general"
    assert body["text"] == ":red_circle: [prod] podinfo.test: Failed checks threshold reached 5"
    (attachment,) = body["attachments"]
    assert attachment["color"] == "#a30200"
    headline, facts, context = attachment["blocks"]
    assert headline == {
        "type": "section",
        "text": {"type": "mrkdwn", "text": "*[prod] podinfo.test*\nFailed checks threshold reached 5"},
    }
    assert [f["text"] for f in facts["fields"]] == [
        "*Cluster*\nprod",
        "*Target*\nDeployment/podinfo.test",
        "*Phase*\nFailed",
        "*Weights*\ncanary 20% / primary 80%",
    ]
    assert context["type"] == "context"


def test_incoming_webhook_error_status_is_a_delivery_error() -> None:
    with Receiver(lambda r: (404, {}, "no_service")) as receiver:
        notifier = slack_notifier(Endpoint(type="slack", name="t", address=f"{receiver.url}/hook"))
        with pytest.raises(DeliveryError) as caught:
            notifier.post(note("Progressing", "info", "x"))
    assert caught.value.status == 404
    assert not caught.value.retryable
    assert "no_service" in caught.value.detail


def test_bot_mode_posts_once_per_rollout_updates_it_and_replies_in_thread_for_warn_and_error() -> None:
    api = SlackWebApi()
    with Receiver(api) as receiver:
        endpoint = Endpoint(
            type="slack",
            name="test/bot",
            address=f"{receiver.url}/api/",
            token="xoxb-test",
            channel="deploys",
        )
        notifier = slack_notifier(endpoint)
        assert isinstance(notifier, SlackBotNotifier)
        notifier.post(note("Progressing", "info", "New revision detected, progressing canary analysis."))
        notifier.post(note("Progressing", "info", "Advance podinfo.test canary weight 10", weight=10))
        notifier.post(
            note("WaitingPromotion", "warn", "Canary promotion is waiting for approval.", weight=50)
        )
        notifier.post(note("Failed", "error", "Failed checks threshold reached 2"))
        # the rollout ended: the next revision gets a message of its own
        notifier.post(
            note("Progressing", "info", "New revision detected, progressing canary analysis.", 0, "rev2")
        )
        requests = receiver.received()

    calls = [(r.path.removeprefix("/api/"), r.json()) for r in requests]
    assert [path for path, _ in calls] == [
        "chat.postMessage",
        "chat.update",
        "chat.update",
        "chat.postMessage",
        "chat.update",
        "chat.postMessage",
        "chat.postMessage",
    ]
    assert all(r.headers["authorization"] == "Bearer xoxb-test" for r in requests)
    first, update1, update2, reply1, update3, reply2, second = (body for _, body in calls)
    assert first["channel"] == "deploys"
    assert "thread_ts" not in first
    assert first["attachments"][0]["color"] == "#2eb886"
    assert first["text"].endswith("New revision detected, progressing canary analysis.")
    ts = "1700000000.000001"
    for update in (update1, update2, update3):
        assert update["channel"] == "C0123"
        assert update["ts"] == ts
    assert update1["text"].endswith("Advance podinfo.test canary weight 10")
    assert update2["attachments"][0]["color"] == "#daa038"
    assert update3["attachments"][0]["color"] == "#a30200"
    assert reply1 == {
        "channel": "C0123",
        "thread_ts": ts,
        "text": ":warning: [prod] podinfo.test: Canary promotion is waiting for approval.",
    }
    assert reply2 == {
        "channel": "C0123",
        "thread_ts": ts,
        "text": ":red_circle: [prod] podinfo.test: Failed checks threshold reached 2",
    }
    assert second["channel"] == "deploys"
    assert "thread_ts" not in second and "ts" not in second


def test_bot_mode_posts_a_new_message_when_the_old_one_was_deleted() -> None:
    api = SlackWebApi()
    with Receiver(api) as receiver:
        notifier = slack_notifier(
            Endpoint(type="slack", name="t", address=f"{receiver.url}/api/", token="xoxb-test", channel="C1")
        )
        notifier.post(note("Progressing", "info", "one"))
        api.missing.add("1700000000.000001")
        notifier.post(note("Progressing", "info", "two", weight=10))
        notifier.post(note("Progressing", "info", "three", weight=20))
        paths = [r.path for r in receiver.received()]
    assert paths == ["/api/chat.postMessage", "/api/chat.update", "/api/chat.postMessage", "/api/chat.update"]


def test_bot_mode_slack_errors_are_not_retryable_but_rate_limits_are() -> None:
    def answer(request: Request) -> Answer:
        if request.json()["channel"] == "nope":
            return 200, {}, {"ok": False, "error": "channel_not_found"}
        return 429, {"Retry-After": "7"}, {"ok": False, "error": "ratelimited"}

    with Receiver(answer) as receiver:
        for channel, retryable, status in (("nope", False, 200), ("busy", True, 429)):
            notifier = slack_notifier(
                Endpoint(
                    type="slack", name="t", address=f"{receiver.url}/api/", token="xoxb", channel=channel
                )
            )
            with pytest.raises(DeliveryError) as caught:
                notifier.post(note("Progressing", "info", "x"))
            assert caught.value.retryable is retryable
            assert caught.value.status == status
    assert caught.value.retry_after == 7.0
