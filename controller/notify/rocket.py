"""Rocket.Chat: a Slack-like body with attachments (it renders no Block Kit), to an incoming webhook."""

from __future__ import annotations

from controller.notify.webhook import WebhookNotifier


class RocketNotifier(WebhookNotifier):
    kind = "rocket"
