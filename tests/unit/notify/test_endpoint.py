"""Resolving an AlertProvider to where it sends: spec, Secret (injected), local env and files, defaults."""

from __future__ import annotations

from pathlib import Path

import pytest

from controller.api.alert_provider import AlertProvider
from controller.api.canary import Canary
from controller.notify.defaults import default_endpoints, dispatcher_from_settings, link_builder
from controller.notify.endpoint import Endpoint, ProviderConfigError, resolve
from controller.notify.local_secrets import env_var_name, local_secrets
from controller.notify.queue import DeliveryQueue
from controller.notify.registry import build
from controller.notify.slack import SlackBotNotifier, SlackWebhookNotifier


def provider(**spec: object) -> AlertProvider:
    return AlertProvider.model_validate({"metadata": {"name": "chat", "namespace": "team"}, "spec": spec})


def test_spec_values_and_defaults() -> None:
    endpoint = resolve(
        provider(type="rocket", address="https://rocket.example/hooks/x", proxy="http://p:3128")
    )
    assert endpoint == Endpoint(
        type="rocket",
        name="team/chat",
        address="https://rocket.example/hooks/x",
        proxy="http://p:3128",
        channel="general",
        username="sluice",
    )


def test_secret_keys_override_the_spec_and_the_lookup_gets_the_providers_namespace() -> None:
    asked = []

    def secrets(namespace: str, name: str) -> dict[str, str]:
        asked.append((namespace, name))
        return {"address": "https://hooks.slack.com/services/A", "token": "", "proxy": "http://q:1"}

    endpoint = resolve(provider(type="slack", address="https://old", secretRef={"name": "slack"}), secrets)
    assert asked == [("team", "slack")]
    assert endpoint.address == "https://hooks.slack.com/services/A"
    assert endpoint.token is None  # empty values do not count
    assert endpoint.proxy == "http://q:1"


@pytest.mark.parametrize(
    ("spec", "secret", "error"),
    [
        ({"type": "msteams"}, None, "AlertProvider team/chat: spec.address: no address"),
        ({"type": "gchat", "address": "chat.googleapis.com/v1"}, None, "is not an http(s) URL"),
        (
            {"type": "discord", "secretRef": {"name": "gone"}},
            None,
            "spec.secretRef.name: secret 'gone' not found in namespace 'team'",
        ),
        ({"type": "webhook", "secretRef": {"name": "s"}}, {"token": "t"}, "spec.address: no address"),
    ],
)
def test_unusable_providers_name_the_field(spec: dict, secret: dict | None, error: str) -> None:
    with pytest.raises(ProviderConfigError, match=error.replace("(", r"\(").replace(")", r"\)")):
        resolve(provider(**spec), lambda namespace, name: secret)


def test_slack_with_a_token_is_bot_mode_and_needs_no_address() -> None:
    bot = build(resolve(provider(type="slack", secretRef={"name": "bot"}), lambda ns, n: {"token": "xoxb-1"}))
    assert isinstance(bot, SlackBotNotifier)
    assert bot.client.base_url == "https://slack.com/api/"
    hook = build(resolve(provider(type="slack", address="https://hooks.slack.com/services/A")))
    assert isinstance(hook, SlackWebhookNotifier)


def test_local_secret_env_names() -> None:
    assert env_var_name("slack-bot", "token") == "SLUICE_SECRET_SLACK_BOT_TOKEN"
    assert env_var_name("teams.prod", "address") == "SLUICE_SECRET_TEAMS_PROD_ADDRESS"


def test_local_secrets_env_wins_over_files_and_namespaced_files_over_plain(tmp_path: Path) -> None:
    for folder, value in ((tmp_path / "hook", "plain"), (tmp_path / "team" / "hook", "namespaced")):
        folder.mkdir(parents=True)
        (folder / "address").write_text(f"https://{value}\n")
        (folder / "proxy").write_text(f"http://{value}:3128\n")
    (tmp_path / "hook" / "token").write_text("from-file\n")
    lookup = local_secrets({"SLUICE_SECRET_HOOK_TOKEN": "from-env"}, tmp_path)
    assert lookup("team", "hook") == {
        "address": "https://namespaced",
        "token": "from-env",
        "proxy": "http://namespaced:3128",
    }
    assert lookup("other", "hook") == {
        "address": "https://plain",
        "token": "from-env",
        "proxy": "http://plain:3128",
    }
    assert lookup("team", "nothing") is None


def test_local_secrets_directory_from_the_environment(tmp_path: Path) -> None:
    (tmp_path / "hook").mkdir()
    (tmp_path / "hook" / "address").write_text("https://x")
    assert local_secrets({"SLUICE_SECRETS_DIR": str(tmp_path)})("ns", "hook") == {"address": "https://x"}
    assert local_secrets({})("ns", "hook") is None


def test_default_endpoints_from_flags_or_env() -> None:
    assert default_endpoints({}) == []
    slack, teams = default_endpoints(
        {
            "SLUICE_SLACK_URL": "https://hooks.slack.com/services/A",
            "SLUICE_SLACK_CHANNEL": "deploys",
            "SLUICE_SLACK_USER": "bot",
            "SLUICE_MSTEAMS_URL": "https://teams.example/workflow",
        }
    )
    assert (slack.type, slack.address, slack.channel, slack.username, slack.token) == (
        "slack",
        "https://hooks.slack.com/services/A",
        "deploys",
        "bot",
        None,
    )
    assert (teams.type, teams.address) == ("msteams", "https://teams.example/workflow")
    (bot,) = default_endpoints({"SLUICE_SLACK_TOKEN": "xoxb-1", "SLUICE_SLACK_CHANNEL": "C1"})
    assert (bot.token, bot.address, bot.channel) == ("xoxb-1", None, "C1")


def test_dispatcher_from_settings_takes_cluster_link_and_defaults() -> None:
    settings = {
        "SLUICE_CLUSTER_NAME": "prod-eu",
        "SLUICE_NOTIFICATION_LINK": "https://grafana/d/sluice?c={cluster}&ns={namespace}&canary={name}",
        "SLUICE_MSTEAMS_URL": "https://teams.example/workflow",
    }
    dispatcher = dispatcher_from_settings(DeliveryQueue(), lambda ns, n: None, settings=settings)
    canary = Canary.model_validate(
        {
            "metadata": {"name": "podinfo", "namespace": "test"},
            "spec": {
                "targetRef": {"kind": "Deployment", "name": "podinfo"},
                "service": {"port": 80},
                "analysis": {"interval": "1m", "threshold": 2, "stepWeight": 10},
            },
        }
    )
    assert dispatcher.cluster == "prod-eu"
    assert dispatcher.link is not None
    assert dispatcher.link(canary) == "https://grafana/d/sluice?c=prod-eu&ns=test&canary=podinfo"
    assert [e.type for e in dispatcher.defaults] == ["msteams"]


def test_a_link_with_an_unknown_placeholder_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match=r"SLUICE_NOTIFICATION_LINK: unknown placeholder \{canary\}"):
        link_builder("https://x/{canary}")
