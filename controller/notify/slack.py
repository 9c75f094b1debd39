"""Slack, through slack-sdk: an incoming webhook, or a bot token that keeps one message per rollout.

Webhook mode (no token): every notification is a new message with the Block Kit body of
templates/notifications/slack.j2.

Bot mode (a `token`, with `channel` naming the channel): the first notification of a rollout is posted
with chat.postMessage; later ones rewrite that same message with chat.update so the channel shows one
current line per rollout instead of a scroll of them, and warnings and errors are also replied in the
message's thread so people following it get pinged. After a terminal phase the next notification starts
a new message. If the message was deleted, a new one is posted. The address, when set, is the Web API
base URL (default https://slack.com/api/).

slack-sdk's own retry handlers are switched off: retries happen in one place (controller/notify/queue.py).
"""

from __future__ import annotations

import http.client
from dataclasses import dataclass
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.webhook import WebhookClient

from controller.notify.endpoint import Endpoint
from controller.notify.http import DEFAULT_TIMEOUT, check_status, transport_error
from controller.notify.messages import render
from controller.ports.notifier import TERMINAL_PHASES, DeliveryError, Notification

SLACK_API = "https://slack.com/api/"
_NO_RESPONSE = (OSError, http.client.HTTPException)


class SlackWebhookNotifier:
    kind = "slack"

    def __init__(self, endpoint: Endpoint, timeout: float = DEFAULT_TIMEOUT) -> None:
        if not endpoint.address:
            raise ValueError(f"{endpoint.name}: a slack webhook provider needs an address")
        self.endpoint = endpoint
        self.client = WebhookClient(
            endpoint.address, timeout=int(max(timeout, 1)), proxy=endpoint.proxy, retry_handlers=[]
        )
        self.client.timeout = timeout  # the constructor's int hint is too coarse for tests

    def post(self, n: Notification) -> int:
        body = {**render("slack", n), "username": self.endpoint.username, "channel": self.endpoint.channel}
        try:
            response = self.client.send_dict(body)
        except _NO_RESPONSE as exc:
            raise transport_error(exc) from exc
        return check_status(response.status_code, response.headers or {}, response.body or "")


@dataclass
class _Thread:
    channel: str
    ts: str


class SlackBotNotifier:
    kind = "slack"

    def __init__(self, endpoint: Endpoint, timeout: float = DEFAULT_TIMEOUT) -> None:
        if not endpoint.token:
            raise ValueError(f"{endpoint.name}: a slack bot provider needs a token")
        self.endpoint = endpoint
        self.client = WebClient(
            token=endpoint.token,
            base_url=endpoint.address or SLACK_API,
            timeout=int(max(timeout, 1)),
            proxy=endpoint.proxy,
            retry_handlers=[],
        )
        self.client.timeout = timeout
        # rollout key -> the message that tracks it. Only the delivery worker calls post().
        self.threads: dict[str, _Thread] = {}

    def post(self, n: Notification) -> int:
        body = render("slack", n)
        key = n.rollout_key()
        thread = self.threads.get(key)
        if thread is not None:
            updated = self._update(thread, body)
            if not updated:
                thread = None
        if thread is None:
            answer = self._call("chat.postMessage", channel=self.endpoint.channel, **body)
            self.threads[key] = _Thread(channel=answer["channel"], ts=answer["ts"])
        elif n.severity in ("warn", "error"):
            self._call("chat.postMessage", channel=thread.channel, thread_ts=thread.ts, text=body["text"])
        if n.phase in TERMINAL_PHASES:
            self.threads.pop(key, None)
        return 200

    def _update(self, thread: _Thread, body: dict[str, Any]) -> bool:
        """Rewrite the rollout's message; False when Slack no longer has it."""
        try:
            self._call("chat.update", channel=thread.channel, ts=thread.ts, **body)
        except DeliveryError as exc:
            if exc.status is not None and exc.status < 300 and "message_not_found" in exc.detail:
                return False
            raise
        return True

    def _call(self, method: str, **arguments: Any) -> dict[str, Any]:
        try:
            response = self.client.api_call(method, json=arguments)
        except SlackApiError as exc:
            answer = exc.response
            status = answer.status_code
            if 200 <= status < 300:  # ok=false: a wrong channel, scope or token; retrying will not help
                raise DeliveryError(
                    f"slack {method}: {answer.get('error', 'not ok')}", status=status
                ) from exc
            check_status(status, answer.headers or {}, f"slack {method}: {answer.data!r}")
            raise  # not reached: check_status raises for every non-2xx status
        except _NO_RESPONSE as exc:
            raise transport_error(exc) from exc
        return dict(response.data) if isinstance(response.data, dict) else {}


def slack_notifier(
    endpoint: Endpoint, timeout: float = DEFAULT_TIMEOUT
) -> SlackBotNotifier | SlackWebhookNotifier:
    """Bot mode when the provider has a token, incoming-webhook mode otherwise."""
    if endpoint.token:
        return SlackBotNotifier(endpoint, timeout)
    return SlackWebhookNotifier(endpoint, timeout)
