"""A bounded delivery queue with one worker thread: a slow or dead chat service never delays a tick.

`enqueue` only appends to a deque and returns. When the queue is full the OLDEST message is dropped
(counted and logged): during an outage the newest state of a rollout is the one worth telling. The
worker posts each message with up to `RetryPolicy.attempts` tries, retrying 429, 5xx and transport
errors with exponential backoff, or after exactly the server's Retry-After when it sends one (capped).
Nothing here raises into the caller; every outcome is logged and counted (controller/notify/metrics.py).
"""

from __future__ import annotations

import collections
import logging
import threading
from dataclasses import dataclass

from controller.notify.metrics import count
from controller.ports.notifier import DeliveryError, Notification, Notifier

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 4
    backoff: float = 1.0
    max_backoff: float = 30.0
    # Retry-After is honoured up to this many seconds; a longer ask is cut to it.
    max_retry_after: float = 60.0

    def delay(self, attempt: int, error: DeliveryError) -> float:
        """Seconds to wait after failed try number `attempt` (1-based)."""
        if error.retry_after is not None:
            return min(error.retry_after, self.max_retry_after)
        return min(self.backoff * 2 ** (attempt - 1), self.max_backoff)


@dataclass(frozen=True)
class _Item:
    notifier: Notifier
    notification: Notification


class DeliveryQueue:
    def __init__(self, maxsize: int = 1000, policy: RetryPolicy | None = None) -> None:
        if maxsize < 1:
            raise ValueError("maxsize must be at least 1")
        self.maxsize = maxsize
        self.policy = policy or RetryPolicy()
        self.dropped = 0
        self._items: collections.deque[_Item] = collections.deque()
        self._changed = threading.Condition()
        self._stopping = threading.Event()
        self._busy = False
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        with self._changed:
            if self._thread is not None:
                return
            self._stopping.clear()
            self._thread = threading.Thread(target=self._run, name="sluice-notify", daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the worker; a message in flight gets up to `timeout` seconds, queued ones stay queued."""
        self._stopping.set()
        with self._changed:
            self._changed.notify_all()
            thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(timeout)

    def enqueue(self, notifier: Notifier, notification: Notification) -> None:
        with self._changed:
            if len(self._items) >= self.maxsize:
                oldest = self._items.popleft()
                self.dropped += 1
                count(oldest.notifier.kind, "dropped")
                log.warning(
                    "notification queue full (%d): dropped %s for %s/%s: %s",
                    self.maxsize,
                    oldest.notifier.kind,
                    oldest.notification.namespace,
                    oldest.notification.canary,
                    oldest.notification.message,
                )
            self._items.append(_Item(notifier, notification))
            self._changed.notify()

    def pending(self) -> int:
        """Messages waiting, plus the one being delivered."""
        with self._changed:
            return len(self._items) + (1 if self._busy else 0)

    def in_flight(self) -> bool:
        with self._changed:
            return self._busy

    def flush(self, timeout: float) -> bool:
        """Wait until every queued message was handled; False if `timeout` passed first."""
        with self._changed:
            return self._changed.wait_for(lambda: not self._items and not self._busy, timeout)

    def _run(self) -> None:
        while not self._stopping.is_set():
            with self._changed:
                self._changed.wait_for(lambda: self._items or self._stopping.is_set())
                if self._stopping.is_set():
                    return
                item = self._items.popleft()
                self._busy = True
            try:
                self._deliver(item)
            finally:
                with self._changed:
                    self._busy = False
                    self._changed.notify_all()

    def _deliver(self, item: _Item) -> None:
        kind, n = item.notifier.kind, item.notification
        what = f"{kind} notification for {n.namespace}/{n.canary} ({n.severity}: {n.message})"
        for attempt in range(1, self.policy.attempts + 1):
            try:
                status = item.notifier.post(n)
            except DeliveryError as exc:
                if not exc.retryable or attempt == self.policy.attempts:
                    count(kind, "failed")
                    log.error("%s failed after %d attempt(s): %s", what, attempt, exc.detail)
                    return
                delay = self.policy.delay(attempt, exc)
                count(kind, "retried")
                log.warning("%s: %s; retrying in %.2fs", what, exc.detail, delay)
                if self._stopping.wait(delay):
                    count(kind, "failed")
                    log.error("%s abandoned: shutting down", what)
                    return
            except Exception:
                count(kind, "failed")
                log.exception("%s failed", what)
                return
            else:
                count(kind, "sent")
                log.info("%s sent: HTTP %s", what, status)
                return
