"""Provider type -> notifier class: adding a chat service is one module and one line here."""

from __future__ import annotations

from collections.abc import Callable

from controller.api.alert_provider import AlertProvider
from controller.notify.discord import DiscordNotifier
from controller.notify.endpoint import Endpoint, SecretLookup, no_secrets, resolve
from controller.notify.gchat import GoogleChatNotifier
from controller.notify.http import DEFAULT_TIMEOUT
from controller.notify.msteams import TeamsNotifier
from controller.notify.rocket import RocketNotifier
from controller.notify.slack import slack_notifier
from controller.notify.webhook import WebhookNotifier
from controller.ports.notifier import Notifier

NOTIFIERS: dict[str, Callable[[Endpoint, float], Notifier]] = {
    "slack": slack_notifier,
    "msteams": TeamsNotifier,
    "discord": DiscordNotifier,
    "gchat": GoogleChatNotifier,
    "rocket": RocketNotifier,
    "webhook": WebhookNotifier,
}


def build(endpoint: Endpoint, timeout: float = DEFAULT_TIMEOUT) -> Notifier:
    return NOTIFIERS[endpoint.type](endpoint, timeout)


def notifier_for(
    provider: AlertProvider, secrets: SecretLookup = no_secrets, timeout: float = DEFAULT_TIMEOUT
) -> Notifier:
    """The notifier of an AlertProvider; ProviderConfigError names the field when it cannot be built."""
    return build(resolve(provider, secrets), timeout)
