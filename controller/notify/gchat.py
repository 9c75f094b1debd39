"""Google Chat: a cardsV2 card posted to a space's incoming webhook (the URL carries its key and token)."""

from __future__ import annotations

from controller.notify.webhook import WebhookNotifier


class GoogleChatNotifier(WebhookNotifier):
    kind = "gchat"
