"""The webhook client: calls a Canary's webhooks the way Flagger does, so Flagger's receivers work unchanged.

Wire contract (reference/flagger.md §1.5, `pkg/controller/webhook.go`): POST JSON
`{name, namespace, phase, checksum, metadata}`; success is a status <= 202, otherwise the (trimmed) body is
the error text. Event hooks get `metadata.eventMessage`, `eventType` and `timestamp` (unix ms, a string),
which user metadata never overwrites. As in Flagger (retryablehttp under a context deadline), `timeout`
(default 10s) bounds the whole call, retries and backoff included; a retry follows a transport error, a
429 or a 5xx other than 501, never a 4xx or a 203. `disableTLS` skips certificate verification.

Calls are synchronous (httpx): the tick that runs them is a worker thread, and hooks of one type run in
order, stopping where Flagger stops (see `run_hooks`).
"""

from __future__ import annotations

import ssl
import time
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from typing import Any, Literal

import httpx

from controller.api.canary import CanaryWebhook, HookType
from controller.api.durations import parse_duration

DEFAULT_TIMEOUT = 10.0
DEFAULT_BACKOFF = 0.5  # first wait between attempts; doubles each retry, capped at MAX_BACKOFF
MAX_BACKOFF = 5.0
MAX_MESSAGE = 1000
EVENT_KEYS = ("eventMessage", "eventType", "timestamp")


@dataclass(frozen=True)
class HookSubject:
    """What a payload names: the canary, its phase (the outcome for post-rollout) and its checksum."""

    name: str
    namespace: str
    phase: str
    checksum: str = ""


@dataclass(frozen=True)
class HookEvent:
    """The event an `event` hook reports."""

    message: str
    type: Literal["Normal", "Warning"] = "Normal"
    timestamp_ms: int | None = None  # now, when not given


@dataclass(frozen=True)
class HookResult:
    name: str
    type: HookType
    ok: bool
    status: int | None  # None when no response came back (timeout, refused, TLS failure)
    message: str  # the trimmed response body, or what went wrong
    duration: float  # seconds, all attempts included
    attempts: int
    mute_alert: bool = False


def payload(webhook: CanaryWebhook, subject: HookSubject, event: HookEvent | None = None) -> dict[str, Any]:
    metadata: dict[str, str] = dict(webhook.metadata or {})
    if event is not None:
        stamp = event.timestamp_ms if event.timestamp_ms is not None else int(time.time() * 1000)
        metadata.update(eventMessage=event.message, eventType=event.type, timestamp=str(stamp))
    return {
        "name": subject.name,
        "namespace": subject.namespace,
        "phase": subject.phase,
        "checksum": subject.checksum,
        "metadata": metadata,
    }


@cache
def _tls(verify: bool) -> ssl.SSLContext:
    """Loading the CA bundle takes ~70 ms of CPU: do it once per process, not once per call."""
    return httpx.create_ssl_context(verify=verify)


def _retryable(status: int) -> bool:
    return status == 429 or (status >= 500 and status != 501)


def _trim(text: str) -> str:
    text = text.strip()
    return text if len(text) <= MAX_MESSAGE else text[:MAX_MESSAGE] + "…"


def call_webhook(
    webhook: CanaryWebhook,
    body: dict[str, Any],
    backoff: float = DEFAULT_BACKOFF,
) -> HookResult:
    """POST `body` to the webhook, with retries within its timeout; never raises on HTTP trouble."""
    hook_type = webhook.hook_type()
    timeout = parse_duration(webhook.timeout) if webhook.timeout else DEFAULT_TIMEOUT
    retries = webhook.retries or 0
    began = time.monotonic()
    deadline = began + timeout
    attempts, status, message = 0, None, ""
    with httpx.Client(verify=_tls(not webhook.disable_tls), follow_redirects=False) as client:
        while True:
            attempts += 1
            remaining = deadline - time.monotonic()
            retry = False
            try:
                response = client.post(webhook.url, json=body, timeout=max(remaining, 0.001))
                status, message = response.status_code, _trim(response.text)
                if status <= 202:
                    break
                message = message or f"HTTP {status}"
                retry = _retryable(status)
            except httpx.TimeoutException:
                status, message = None, f"timed out after {timeout:g}s"
            except (httpx.InvalidURL, httpx.UnsupportedProtocol) as exc:
                status, message = None, f"invalid URL {webhook.url!r}: {exc}"
            except httpx.HTTPError as exc:
                status, message, retry = None, _trim(f"{type(exc).__name__}: {exc}"), True
            wait = min(backoff * 2 ** (attempts - 1), MAX_BACKOFF)
            if not retry or attempts > retries or time.monotonic() + wait >= deadline:
                break
            time.sleep(wait)
    ok = status is not None and status <= 202
    return HookResult(
        name=webhook.name,
        type=hook_type,
        ok=ok,
        status=status,
        message=message,
        duration=time.monotonic() - began,
        attempts=attempts,
        mute_alert=webhook.mute_alert,
    )


def run_hooks(
    webhooks: Iterable[CanaryWebhook],
    hook_type: HookType,
    subject: HookSubject,
    event: HookEvent | None = None,
    backoff: float = DEFAULT_BACKOFF,
) -> list[HookResult]:
    """Call the webhooks of `hook_type` in order; the results of those called.

    Stops where Flagger stops: a `rollback` hook at the first success (rollback is signalled), `event` and
    `post-rollout` hooks all run, every other type at the first failure (the gate or check failed).
    """
    results: list[HookResult] = []
    for webhook in webhooks:
        if webhook.hook_type() != hook_type:
            continue
        result = call_webhook(webhook, payload(webhook, subject, event), backoff=backoff)
        results.append(result)
        if hook_type == "rollback" and result.ok:
            break
        if hook_type not in ("rollback", "event", "post-rollout") and not result.ok:
            break
    return results


def passed(results: Iterable[HookResult]) -> bool:
    """A gate or check passes when every hook called said ok (no hooks: passes)."""
    return all(result.ok for result in results)


def rollback_signalled(results: Iterable[HookResult]) -> bool:
    """A rollback hook that answers ok asks for an immediate rollback."""
    return any(result.ok for result in results)
