"""The controller's notification settings: default destinations, cluster name and link, from flags or env.

Mirrors Flagger's `-slack-url/-slack-token/-slack-channel/-slack-user/-slack-proxy-url`, `-msteams-url`
and `-cluster-name` flags. The controller command passes its flags under the same names as these
environment variables (a mapping), so there is one reading of them:

  SLUICE_SLACK_URL, SLUICE_SLACK_TOKEN (bot mode; the URL is then the Web API base and may be omitted),
  SLUICE_SLACK_CHANNEL, SLUICE_SLACK_USER, SLUICE_SLACK_PROXY, SLUICE_MSTEAMS_URL, SLUICE_MSTEAMS_PROXY,
  SLUICE_CLUSTER_NAME, and SLUICE_NOTIFICATION_LINK: a URL with {name}, {namespace} and {cluster}
  placeholders (e.g. a dashboard) added to every message as its link.

Default destinations receive messages of every severity from canaries that declare no `alerts`.
"""

from __future__ import annotations

import os
import string
from collections.abc import Callable, Mapping

from controller.api.canary import Canary
from controller.notify.dispatcher import Dispatcher, ProviderLookup
from controller.notify.endpoint import Endpoint, SecretLookup, no_secrets
from controller.notify.queue import DeliveryQueue

LINK_FIELDS = frozenset({"name", "namespace", "cluster"})


def _settings(settings: Mapping[str, str] | None) -> Mapping[str, str]:
    return os.environ if settings is None else settings


def default_endpoints(settings: Mapping[str, str] | None = None) -> list[Endpoint]:
    env = _settings(settings)
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


def link_builder(template: str, cluster: str = "") -> Callable[[Canary], str]:
    """A function giving each canary its link; ValueError names a placeholder that does not exist."""
    names = {field for _, field, _, _ in string.Formatter().parse(template) if field is not None}
    unknown = names - LINK_FIELDS
    if unknown:
        raise ValueError(
            f"SLUICE_NOTIFICATION_LINK: unknown placeholder {{{sorted(unknown)[0]}}} "
            f"(use {{name}}, {{namespace}} or {{cluster}})"
        )

    def link(canary: Canary) -> str:
        return template.format(
            name=canary.metadata.name, namespace=canary.metadata.namespace, cluster=cluster
        )

    return link


def dispatcher_from_settings(
    queue: DeliveryQueue,
    providers: ProviderLookup,
    secrets: SecretLookup = no_secrets,
    settings: Mapping[str, str] | None = None,
) -> Dispatcher:
    """The Dispatcher the controller runs: default destinations, cluster name and link from settings."""
    env = _settings(settings)
    cluster = env.get("SLUICE_CLUSTER_NAME", "")
    template = env.get("SLUICE_NOTIFICATION_LINK")
    return Dispatcher(
        queue,
        providers,
        secrets,
        defaults=default_endpoints(env),
        cluster=cluster,
        link=link_builder(template, cluster) if template else None,
    )
