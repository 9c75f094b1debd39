"""Every provider type, built from an AlertProvider manifest, posts its own payload shape to a receiver."""

from __future__ import annotations

import pytest

from controller.api.alert_provider import AlertProvider
from controller.notify.local_secrets import local_secrets
from controller.notify.registry import notifier_for
from controller.ports.notifier import Notification
from tests.integration.notify.receiver import Receiver, Request

NOTE = Notification(
    canary="podinfo",
    namespace="test",
    phase="Progressing",
    severity="warn",
    message="Halt advancement: request-success-rate 91.2 < 99",
    fields={"Failed checks": "1/5"},
    cluster="prod",
    target="Deployment/podinfo.test",
    canary_weight=30,
    primary_weight=70,
    reason="request-success-rate 91.2 outside [99, 100]",
    link="https://grafana.example/d/sluice?var-canary=podinfo",
    revision="abc123",
)


def provider(kind: str, address: str, secret: str | None = None) -> AlertProvider:
    spec: dict = {"type": kind, "channel": "deploys", "username": "robot", "address": address}
    if secret:
        spec["secretRef"] = {"name": secret}
    return AlertProvider.model_validate({"metadata": {"name": kind, "namespace": "test"}, "spec": spec})


def post(kind: str, secret: str | None = None, env: dict[str, str] | None = None) -> Request:
    with Receiver() as receiver:
        notifier = notifier_for(
            provider(kind, f"{receiver.url}/hook/{kind}", secret), local_secrets(env or {})
        )
        assert notifier.kind == kind
        assert notifier.post(NOTE) == 200
        (request,) = receiver.received()
    assert request.path == f"/hook/{kind}"
    assert request.headers["content-type"] == "application/json"
    return request


def test_msteams_posts_an_adaptive_card() -> None:
    body = post("msteams").json()
    assert body["type"] == "message"
    (attachment,) = body["attachments"]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    card = attachment["content"]
    assert card["type"] == "AdaptiveCard"
    title, message, facts = card["body"]
    assert title["text"] == "[prod] podinfo.test"
    assert title["color"] == "Warning"
    assert message["text"] == NOTE.message
    assert {"title": "Reason", "value": NOTE.reason} in facts["facts"]
    assert {"title": "Weights", "value": "canary 30% / primary 70%"} in facts["facts"]
    assert {"title": "Failed checks", "value": "1/5"} in facts["facts"]
    assert card["actions"] == [{"type": "Action.OpenUrl", "title": "Open", "url": NOTE.link}]


def test_discord_posts_a_native_embed_coloured_by_severity() -> None:
    body = post("discord").json()
    assert body["username"] == "robot"
    (embed,) = body["embeds"]
    assert embed["title"] == "[prod] podinfo.test"
    assert embed["url"] == NOTE.link
    assert embed["description"] == NOTE.message
    assert embed["color"] == 0xDAA038
    assert {"name": "Phase", "value": "Progressing", "inline": True} in embed["fields"]
    assert embed["footer"] == {"text": "sluice · warn"}


def test_gchat_posts_a_cards_v2_card() -> None:
    body = post("gchat").json()
    assert body["text"] == f"[prod] podinfo.test: {NOTE.message}"
    (card,) = body["cardsV2"]
    assert card["card"]["header"] == {"title": "sluice", "subtitle": "[prod] podinfo.test"}
    widgets = card["card"]["sections"][0]["widgets"]
    assert widgets[0] == {"textParagraph": {"text": NOTE.message}}
    assert {"decoratedText": {"topLabel": "Target", "text": "Deployment/podinfo.test"}} in widgets
    assert widgets[-1]["buttonList"]["buttons"][0]["onClick"]["openLink"]["url"] == NOTE.link


def test_rocket_posts_slack_like_attachments_with_channel_and_username() -> None:
    body = post("rocket").json()
    assert body["username"] == "robot"
    assert body["channel"] == "deploys"
    (attachment,) = body["attachments"]
    assert attachment["color"] == "#daa038"
    assert attachment["title_link"] == NOTE.link
    assert {"title": "Reason", "value": NOTE.reason, "short": True} in attachment["fields"]


def test_generic_webhook_posts_the_notification_as_json_with_the_secret_token() -> None:
    env = {"SLUICE_SECRET_HOOK_CREDS_TOKEN": "s3cret"}
    request = post("webhook", secret="hook-creds", env=env)
    assert request.headers["authorization"] == "Bearer s3cret"
    assert request.json() == {
        "cluster": "prod",
        "canary": "podinfo",
        "namespace": "test",
        "target": "Deployment/podinfo.test",
        "phase": "Progressing",
        "severity": "warn",
        "message": NOTE.message,
        "reason": NOTE.reason,
        "weights": {"canary": 30, "primary": 70},
        "link": NOTE.link,
        "revision": "abc123",
        "fields": {"Failed checks": "1/5"},
    }


@pytest.mark.parametrize("kind", ["msteams", "discord", "gchat", "rocket", "webhook"])
def test_secret_address_overrides_the_spec(kind: str, tmp_path) -> None:
    with Receiver() as receiver:
        (tmp_path / "test" / "chat").mkdir(parents=True)
        (tmp_path / "test" / "chat" / "address").write_text(f"{receiver.url}/from-secret\n")
        notifier = notifier_for(
            provider(kind, "http://127.0.0.1:9/wrong", secret="chat"), local_secrets({}, tmp_path)
        )
        notifier.post(NOTE)
        assert [r.path for r in receiver.received()] == ["/from-secret"]


@pytest.mark.parametrize("kind", ["slack", "msteams", "webhook"])
def test_the_proxy_from_the_spec_carries_the_request(kind: str) -> None:
    with Receiver() as proxy:
        spec = {"type": kind, "address": "http://chat.example.invalid/hook", "proxy": proxy.url}
        resource = AlertProvider.model_validate(
            {"metadata": {"name": "p", "namespace": "test"}, "spec": spec}
        )
        assert notifier_for(resource).post(NOTE) == 200
        (request,) = proxy.received()
    assert request.path == "http://chat.example.invalid/hook"  # absolute URI: sent to the proxy
    assert request.json()
