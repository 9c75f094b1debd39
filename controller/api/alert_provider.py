"""The AlertProvider resource: where a canary's alerts go (a chat channel or a generic webhook).

Field-compatible with Flagger's AlertProvider, plus the `webhook` type (a plain JSON POST).
"""

from __future__ import annotations

from typing import Any, Literal

from controller.api.base import API_VERSION, Model
from controller.api.meta import ObjectMeta
from controller.api.metric_template import SecretReference

AlertProviderType = Literal["slack", "msteams", "discord", "gchat", "rocket", "webhook"]


class AlertProviderSpec(Model):
    type: AlertProviderType
    channel: str = "general"
    username: str = "sluice"
    # Incoming-webhook URL; a Secret's `address` key overrides it.
    address: str | None = None
    # HTTP(S) proxy to reach the chat service through.
    proxy: str | None = None
    # Secret with `address` and optionally `token` (sent as a Bearer token).
    secret_ref: SecretReference | None = None


class AlertProvider(Model):
    api_version: Literal["sluice.dev/v1beta1"] = API_VERSION
    kind: Literal["AlertProvider"] = "AlertProvider"
    metadata: ObjectMeta
    spec: AlertProviderSpec
    # Written by the cluster (conditions); accepted so `kubectl get -o yaml` output loads back.
    status: dict[str, Any] | None = None
