"""The built-in load generator (`metadata.type: load`): a steady open-loop rate, so no `hey` is needed.

Rate is held by schedule, not by pacing each worker: request i is due at start + i/rate, and `concurrency`
workers (one keep-alive connection each) take the next due request in turn. A slow response delays only
its worker; when every worker is busy the schedule falls behind and catches up as soon as one is free, so
the count over the duration stays rate x duration while the target keeps up. It runs on its own event loop
(uvloop) in the job's thread; figures are published live in the job's progress map.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from dataclasses import asdict, dataclass, field
from typing import Any

import uvloop

from controller.api.durations import parse_duration
from controller.loadtester.http_client import Connection

MAX_LATENCIES = 200_000


class LoadSpecError(ValueError):
    """Metadata that does not describe a load: the message names the key."""


@dataclass(frozen=True)
class LoadSpec:
    url: str
    rate: float  # requests per second, all workers together
    duration: float  # seconds
    concurrency: int = 10
    method: str = "GET"
    headers: dict[str, str] = field(default_factory=dict)
    body: str = ""
    timeout: float = 5.0  # per request

    @property
    def total(self) -> int:
        return round(self.rate * self.duration)

    def describe(self) -> str:
        """Canonical text of the spec: what deduplicates two requests for the same load."""
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_metadata(cls, metadata: dict[str, str]) -> LoadSpec:
        url = metadata.get("url", "").strip()
        if not url.startswith(("http://", "https://")):
            raise LoadSpecError(f"metadata.url must be an http(s) URL, got {url!r}")
        rate = _number(metadata, "rate", None, float)
        concurrency = _number(metadata, "concurrency", "10", int)
        if rate <= 0 or concurrency <= 0:
            raise LoadSpecError("metadata.rate and metadata.concurrency must be positive")
        return cls(
            url=url,
            rate=rate,
            duration=_duration(metadata, "duration", "1m"),
            concurrency=concurrency,
            method=metadata.get("method", "GET").upper(),
            headers=parse_headers(metadata.get("headers", "")),
            body=metadata.get("body", ""),
            timeout=_duration(metadata, "timeout", "5s"),
        )


def _number(metadata: dict[str, str], key: str, default: str | None, kind: type[float] | type[int]) -> Any:
    text = metadata.get(key, default)
    if text is None:
        raise LoadSpecError(f"metadata.{key} is required")
    try:
        return kind(text)
    except ValueError as exc:
        raise LoadSpecError(f"metadata.{key}: not a number: {text!r}") from exc


def _duration(metadata: dict[str, str], key: str, default: str) -> float:
    try:
        return parse_duration(metadata.get(key, default))
    except ValueError as exc:
        raise LoadSpecError(f"metadata.{key}: {exc}") from exc


def parse_headers(text: str) -> dict[str, str]:
    """Headers from a JSON object, or from `Name: value` lines (metadata values are strings)."""
    text = text.strip()
    if not text:
        return {}
    if text.startswith("{"):
        try:
            parsed = json.loads(text)
        except json.JSONDecodeError as exc:
            raise LoadSpecError(f"metadata.headers: not a JSON object: {exc}") from exc
        return {str(name): str(value) for name, value in parsed.items()}
    headers = {}
    for line in text.splitlines():
        name, sep, value = line.partition(":")
        if not sep or not name.strip():
            raise LoadSpecError(f"metadata.headers: expected 'Name: value', got {line!r}")
        headers[name.strip()] = value.strip()
    return headers


@dataclass
class LoadStats:
    """Live figures of one load; `as_dict` is what `GET /jobs` shows."""

    planned: int
    sent: int = 0
    codes: dict[str, int] = field(default_factory=dict)
    errors: dict[str, int] = field(default_factory=dict)
    latencies: list[float] = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)  # time.monotonic() clock, as `last`
    last: float = 0.0
    max_lag: float = 0.0  # longest a request waited past its due time for a free connection

    def record(self, code: str | None, error: str | None, latency: float) -> None:
        if code is not None:
            self.codes[code] = self.codes.get(code, 0) + 1
        if error is not None:
            self.errors[error] = self.errors.get(error, 0) + 1
        if len(self.latencies) < MAX_LATENCIES:
            self.latencies.append(latency)
        self.last = time.monotonic()

    def as_dict(self) -> dict[str, Any]:
        done = sum(self.codes.values()) + sum(self.errors.values())
        elapsed = (self.last or time.monotonic()) - self.started
        ordered = sorted(self.latencies)

        def quantile(q: float) -> float | None:
            return round(ordered[min(int(q * len(ordered)), len(ordered) - 1)] * 1000, 2) if ordered else None

        return {
            "planned": self.planned,
            "sent": self.sent,
            "completed": done,
            "codes": dict(self.codes),
            "errors": dict(self.errors),
            "rate": round(done / elapsed, 2) if elapsed > 0 else 0.0,
            "latency_ms": {"p50": quantile(0.5), "p99": quantile(0.99)},
            "max_lag_ms": round(self.max_lag * 1000, 1),
        }


async def generate(spec: LoadSpec, stop: threading.Event, stats: LoadStats) -> None:
    loop = asyncio.get_running_loop()
    start = loop.time()

    async def worker() -> None:
        connection = Connection(spec.url, spec.method, spec.headers, spec.body.encode(), spec.timeout)
        try:
            while not stop.is_set() and stats.sent < spec.total:
                due = start + stats.sent / spec.rate
                stats.sent += 1
                if due > loop.time():
                    await asyncio.sleep(due - loop.time())
                stats.max_lag = max(stats.max_lag, loop.time() - due)
                began = time.perf_counter()
                code, error = None, None
                try:
                    code = str(await connection.send())
                except (OSError, TimeoutError) as exc:
                    error = type(exc).__name__
                stats.record(code, error, time.perf_counter() - began)
        finally:
            connection.close()

    await asyncio.gather(*(worker() for _ in range(spec.concurrency)))


def run_load(spec: LoadSpec, stop: threading.Event, progress: dict[str, Any]) -> LoadStats:
    """Generate the load on a fresh uvloop event loop in this thread; live figures go to `progress`."""
    stats = LoadStats(planned=spec.total)

    async def publish() -> None:
        while True:
            progress.update(stats.as_dict())
            await asyncio.sleep(0.5)

    async def main() -> None:
        publisher = asyncio.create_task(publish())
        try:
            await generate(spec, stop, stats)
        finally:
            publisher.cancel()

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(main())
    return stats
