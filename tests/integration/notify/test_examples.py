"""Every AlertProvider in examples/notifications validates and delivers through `sluice notify test`,
with its Secret supplied the local way (env) and pointing at a local receiver."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from controller.api.alert_provider import AlertProvider
from controller.api.loading import load_paths
from controller.cli.notify import notify
from controller.notify.local_secrets import env_var_name
from tests.integration.notify.receiver import Answer, Receiver, Request

EXAMPLES = Path(__file__).resolve().parents[3] / "examples" / "notifications"


def slack_or_ok(request: Request) -> Answer:
    if request.path.startswith("/api/chat."):
        return 200, {}, {"ok": True, "channel": "C0123456789", "ts": "1.000001"}
    return 200, {}, "ok"


def providers() -> dict[str, tuple[str, AlertProvider]]:
    """name -> (file, AlertProvider)"""
    result = load_paths([EXAMPLES])
    assert not result.problems, result.problems
    return {
        item.resource.metadata.name: (item.source, item.resource)
        for item in result.resources
        if isinstance(item.resource, AlertProvider)
    }


def test_the_examples_hold_every_provider_type_and_a_canary() -> None:
    result = load_paths([EXAMPLES])
    assert {type(item.resource).__name__ for item in result.resources} == {"AlertProvider", "Canary"}
    assert {p.spec.type for _, p in providers().values()} == {
        "slack",
        "msteams",
        "discord",
        "gchat",
        "rocket",
        "webhook",
    }


@pytest.mark.parametrize("name", sorted(providers()))
def test_each_example_delivers_through_notify_test(name: str) -> None:
    file, provider = providers()[name]
    secret = provider.spec.secret_ref.name if provider.spec.secret_ref else name
    with Receiver(slack_or_ok) as receiver:
        env = {env_var_name(secret, "address"): f"{receiver.url}/{'api/' if name == 'slack-bot' else 'hook'}"}
        if name == "slack-bot":
            env[env_var_name(secret, "token")] = "xoxb-example"
        result = CliRunner().invoke(notify, ["test", "-f", file, "--severity", "warn"], env=env)
        requests = receiver.received()
    assert result.exit_code == 0, result.output
    assert result.output == f"test/{name} ({provider.spec.type}): delivered, HTTP 200\n"
    assert len(requests) == 1
    if name == "slack-bot":
        assert requests[0].path == "/api/chat.postMessage"
        assert requests[0].json()["channel"] == "C0123456789"
