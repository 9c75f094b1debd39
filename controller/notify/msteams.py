"""Microsoft Teams: an Adaptive Card posted to a Teams Workflows webhook.

Office 365 connectors (and their MessageCard format, which Flagger sends) are being retired; the
Workflows app's "When a Teams webhook request is received" flow takes a message with an Adaptive Card
attachment, which is what templates/notifications/msteams.j2 renders. Severity sets the title colour.
"""

from __future__ import annotations

from controller.notify.webhook import WebhookNotifier


class TeamsNotifier(WebhookNotifier):
    kind = "msteams"
