"""The generic `webhook` provider, and the base of every provider that is "render a template, POST it".

Teams, Discord, Google Chat and Rocket.Chat differ from a plain webhook only in the template they
render (templates/notifications/<kind>.j2), so each is this class with another `kind`. The token, when
the provider's Secret has one, is sent as `Authorization: Bearer`, as Flagger does.
"""

from __future__ import annotations

from controller.notify.endpoint import Endpoint
from controller.notify.http import DEFAULT_TIMEOUT, client, post_json
from controller.notify.messages import render
from controller.ports.notifier import Notification


class WebhookNotifier:
    kind = "webhook"

    def __init__(self, endpoint: Endpoint, timeout: float = DEFAULT_TIMEOUT) -> None:
        if not endpoint.address:
            raise ValueError(f"{endpoint.name}: a {self.kind} provider needs an address")
        self.endpoint = endpoint
        self.http = client(endpoint.proxy, timeout)

    def body(self, n: Notification) -> dict:
        return render(self.kind, n, username=self.endpoint.username, channel=self.endpoint.channel)

    def post(self, n: Notification) -> int:
        return post_json(self.http, self.endpoint.address or "", self.body(n), self.endpoint.token)
