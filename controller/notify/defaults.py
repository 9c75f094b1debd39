"""The controller's default notification destinations, for canaries that declare no `alerts`.

Mirrors Flagger's `-slack-url/-slack-token/-slack-channel/-slack-user/-slack-proxy-url` and `-msteams-url`
flags. The controller command passes its flags through the same names as the environment variables:
SLUICE_SLACK_URL, SLUICE_SLACK_TOKEN (bot mode; the URL is then the Web API base and may be omitted),
SLUICE_SLACK_CHANNEL, SLUICE_SLACK_USER, SLUICE_SLACK_PROXY, SLUICE_MSTEAMS_URL, SLUICE_MSTEAMS_PROXY.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from controller.notify.endpoint import Endpoint


def default_endpoints(settings: Mapping[str, str] | None = None) -> list[Endpoint]:
    env = os.environ if settings is None else settings
    endpoints = []
    if env.get("SLUICE_SLACK_URL") or env.get("SLUICE_SLACK_TOKEN"):
        endpoints.append(
            Endpoint(
                type="slack",
                name="default",
                address=env.get("SLUICE_SLACK_URL") or None,
                token=env.get("SLUICE_SLACK_TOKEN") or None,
                proxy=env.get("SLUICE_SLACK_PROXY") or None,
                channel=env.get("SLUICE_SLACK_CHANNEL") or "general",
                username=env.get("SLUICE_SLACK_USER") or "sluice",
            )
        )
    if env.get("SLUICE_MSTEAMS_URL"):
        endpoints.append(
            Endpoint(
                type="msteams",
                name="default",
                address=env["SLUICE_MSTEAMS_URL"],
                proxy=env.get("SLUICE_MSTEAMS_PROXY") or None,
            )
        )
    return endpoints
