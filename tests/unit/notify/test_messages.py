"""Templates render every provider's body from a Notification; bad templates fail with the file named."""

from __future__ import annotations

from pathlib import Path

import pytest

from controller.notify.messages import TEMPLATES_ENV, TemplateError, facts, render, title
from controller.notify.registry import NOTIFIERS
from controller.ports.notifier import Notification

TRICKY = Notification(
    canary="podinfo",
    namespace="test",
    phase="Progressing",
    severity="info",
    message='weight <10> & "quotes" \\ backslash\nnewline {{ not a template }}',
)


@pytest.mark.parametrize("kind", sorted(NOTIFIERS))
def test_every_provider_has_a_template_that_keeps_any_message_text_intact(kind: str) -> None:
    body = render(kind, TRICKY, username="u", channel="c")
    assert isinstance(body, dict)
    text = str(body)
    assert "not a template" in text


def test_slack_escapes_mrkdwn_but_keeps_the_plain_text_fallback() -> None:
    body = render("slack", TRICKY)
    headline = body["attachments"][0]["blocks"][0]["text"]["text"]
    assert "weight &lt;10&gt; &amp;" in headline
    assert body["attachments"][0]["fallback"].endswith(TRICKY.message)


def test_title_and_facts_leave_out_what_is_unknown() -> None:
    assert title(TRICKY) == "podinfo.test"
    assert facts(TRICKY) == [("Phase", "Progressing"), ("Weights", "canary 0% / primary 100%")]
    full = Notification(
        canary="a",
        namespace="b",
        phase="Failed",
        severity="error",
        message="m",
        fields={"Failed checks": "2/2"},
        cluster="prod",
        target="Deployment/a.b",
        reason="latency 900 > 500",
    )
    assert title(full) == "[prod] a.b"
    assert [label for label, _ in facts(full)] == [
        "Cluster",
        "Target",
        "Phase",
        "Weights",
        "Reason",
        "Failed checks",
    ]


def test_operators_can_override_templates_and_a_broken_one_names_its_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(TEMPLATES_ENV, str(tmp_path))
    (tmp_path / "webhook.j2").write_text('{"text": {{ ("deploy " ~ n.canary ~ ": " ~ n.message) | tojson }}}')
    assert render("webhook", TRICKY) == {"text": f"deploy podinfo: {TRICKY.message}"}
    (tmp_path / "webhook.j2").write_text('{"text": {{ n.message }}}')
    with pytest.raises(TemplateError, match=r"webhook\.j2: does not render to JSON"):
        render("webhook", TRICKY)
    with pytest.raises(TemplateError, match=r"msteams\.j2: template not found"):
        render("msteams", TRICKY)
