"""Where a provider sends, resolved once: address, token and proxy from the AlertProvider spec or its Secret.

The Secret's keys win over the spec, as in Flagger: `address` (webhook URL, or the Slack Web API base
URL in bot mode), `token` (a Slack bot token, or a Bearer token for other providers) and `proxy`.
How a Secret is read is injected (`SecretLookup`): the Kubernetes platform reads a Secret object;
local mode reads env vars and files (controller/notify/local_secrets.py).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from controller.api.alert_provider import AlertProvider

# (namespace, secret name) -> the Secret's decoded data, or None when there is no such Secret.
SecretLookup = Callable[[str, str], Mapping[str, str] | None]

SECRET_KEYS = ("address", "token", "proxy")


class ProviderConfigError(Exception):
    """An AlertProvider cannot be used as written; the message names the provider and the field."""


@dataclass(frozen=True)
class Endpoint:
    type: str
    # "namespace/name" of the AlertProvider (or "default" for the controller's default provider).
    name: str
    address: str | None = None
    token: str | None = None
    proxy: str | None = None
    channel: str = "general"
    username: str = "sluice"


def no_secrets(namespace: str, name: str) -> Mapping[str, str] | None:
    return None


def resolve(provider: AlertProvider, secrets: SecretLookup = no_secrets) -> Endpoint:
    """The Endpoint of `provider`, or ProviderConfigError saying which field is missing or wrong."""
    meta, spec = provider.metadata, provider.spec
    ref = f"AlertProvider {meta.namespace}/{meta.name}"
    values: dict[str, str | None] = {"address": spec.address, "token": None, "proxy": spec.proxy}
    if spec.secret_ref is not None:
        data = secrets(meta.namespace, spec.secret_ref.name)
        if data is None:
            raise ProviderConfigError(
                f"{ref}: spec.secretRef.name: secret {spec.secret_ref.name!r} not found "
                f"in namespace {meta.namespace!r}"
            )
        values.update({key: data[key] for key in SECRET_KEYS if data.get(key)})
    address, token = values["address"], values["token"]
    if not address and not (spec.type == "slack" and token):
        raise ProviderConfigError(
            f"{ref}: spec.address: no address (set spec.address or key 'address' in spec.secretRef)"
        )
    if address and not address.startswith(("http://", "https://")):
        raise ProviderConfigError(f"{ref}: spec.address: {address!r} is not an http(s) URL")
    return Endpoint(
        type=spec.type,
        name=f"{meta.namespace}/{meta.name}",
        address=address,
        token=token,
        proxy=values["proxy"],
        channel=spec.channel,
        username=spec.username,
    )
