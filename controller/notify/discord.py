"""Discord: a native embed posted to the channel webhook URL as given.

Flagger appends `/slack` and sends its Slack payload; sluice sends Discord's own embed instead, so the
severity colour, the fields and the link render as Discord intends, and the address is used unchanged
(`https://discord.com/api/webhooks/<id>/<token>`). Limits Discord enforces (25 fields, 1024 characters
a value) are applied in templates/notifications/discord.j2.
"""

from __future__ import annotations

from controller.notify.webhook import WebhookNotifier


class DiscordNotifier(WebhookNotifier):
    kind = "discord"
