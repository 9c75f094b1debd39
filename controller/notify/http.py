"""One JSON POST for every chat and webhook provider, and one reading of HTTP outcomes.

Every provider (and the slack-sdk clients) turns its HTTP result into the same thing here: a status
on success, or a `DeliveryError` that says whether a retry may help and how long the server asked
us to wait (Retry-After, in seconds or as an HTTP date).
"""

from __future__ import annotations

import email.utils
import json
import time
from collections.abc import Mapping
from typing import Any

import httpx

from controller.ports.notifier import DeliveryError

DEFAULT_TIMEOUT = 5.0
_DETAIL_LIMIT = 200


def retry_after_seconds(value: str | None, now: float | None = None) -> float | None:
    """Retry-After as seconds from now: either delta-seconds or an HTTP date; None when absent or bad."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(when.timestamp() - (time.time() if now is None else now), 0.0)


def is_retryable(status: int) -> bool:
    return status == 429 or status >= 500


def check_status(status: int, headers: Mapping[str, str], body: str) -> int:
    """Return `status` when it is a success (2xx), otherwise raise the matching DeliveryError."""
    if 200 <= status < 300:
        return status
    retry_after = None
    for name, value in headers.items():
        if name.lower() == "retry-after":
            retry_after = retry_after_seconds(value)
    detail = f"HTTP {status}: {body.strip()[:_DETAIL_LIMIT]}".rstrip(": ")
    raise DeliveryError(detail, status=status, retryable=is_retryable(status), retry_after=retry_after)


def transport_error(exc: BaseException) -> DeliveryError:
    """A request that got no HTTP answer (refused, reset, timed out): worth retrying."""
    return DeliveryError(f"no response: {type(exc).__name__}: {exc}", retryable=True)


def client(proxy: str | None = None, timeout: float = DEFAULT_TIMEOUT) -> httpx.Client:
    """A connection-pooling client; a notifier keeps one for its lifetime."""
    return httpx.Client(proxy=proxy, timeout=timeout, headers={"User-Agent": "sluice"})


def post_json(http: httpx.Client, url: str, body: Any, token: str | None = None) -> int:
    """POST `body` as JSON to `url`; return the 2xx status or raise DeliveryError."""
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    try:
        response = http.post(url, content=json.dumps(body).encode(), headers=headers)
    except httpx.HTTPError as exc:
        raise transport_error(exc) from exc
    return check_status(response.status_code, response.headers, response.text)
