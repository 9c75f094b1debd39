"""The webhook payload is Flagger's: {name, namespace, phase, checksum, metadata}, event keys protected."""

from __future__ import annotations

from controller.api.canary import CanaryWebhook
from controller.hooks import HookEvent, HookSubject, payload

SUBJECT = HookSubject(name="podinfo", namespace="test", phase="Progressing", checksum="abc123")


def hook(**fields: object) -> CanaryWebhook:
    return CanaryWebhook.model_validate({"name": "h", "url": "http://127.0.0.1:1/", **fields})


def test_payload_has_flaggers_shape_and_forwards_metadata() -> None:
    body = payload(hook(metadata={"type": "bash", "cmd": "echo hi"}), SUBJECT)
    assert body == {
        "name": "podinfo",
        "namespace": "test",
        "phase": "Progressing",
        "checksum": "abc123",
        "metadata": {"type": "bash", "cmd": "echo hi"},
    }


def test_payload_without_metadata_sends_an_empty_map() -> None:
    assert payload(hook(), SUBJECT)["metadata"] == {}


def test_event_keys_are_added_and_never_overwritten_by_user_metadata() -> None:
    user = {"eventMessage": "mine", "eventType": "mine", "timestamp": "0", "team": "web"}
    body = payload(
        hook(type="event", metadata=user), SUBJECT, HookEvent("Advance podinfo.test", "Warning", 1700)
    )
    assert body["metadata"] == {
        "eventMessage": "Advance podinfo.test",
        "eventType": "Warning",
        "timestamp": "1700",
        "team": "web",
    }


def test_event_timestamp_defaults_to_now_in_unix_milliseconds() -> None:
    stamp = int(payload(hook(type="event"), SUBJECT, HookEvent("hello"))["metadata"]["timestamp"])
    assert stamp > 1_600_000_000_000


def test_user_metadata_of_the_webhook_is_not_mutated() -> None:
    webhook = hook(type="event", metadata={"team": "web"})
    payload(webhook, SUBJECT, HookEvent("hello"))
    assert webhook.metadata == {"team": "web"}
