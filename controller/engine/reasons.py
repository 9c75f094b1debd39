"""One-line, human reasons: which check, which value, which range, which gate, since when."""

from __future__ import annotations

from datetime import UTC, datetime

from controller.engine.observations import HookResult, MetricVerdict


def stamp(moment: datetime) -> str:
    """The RFC 3339 form status fields use."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_stamp(text: str) -> datetime:
    return datetime.fromisoformat(text)


def clock(text: str) -> str:
    """`12:01:05` from a status stamp: short enough for a one-line reason."""
    return parse_stamp(text).astimezone(UTC).strftime("%H:%M:%S")


def short_revision(revision: str | None) -> str:
    """Enough of a revision hash to tell revisions apart in a one-line reason."""
    return (revision or "none")[:10]


def _number(value: float, unit: str) -> str:
    return f"{value:g}{unit}"


def metric_failure(verdict: MetricVerdict) -> str:
    """The analysis package's own one-line reason; else `request-success-rate 91.2% is below min 99%`."""
    if verdict.reason:
        return verdict.reason
    if verdict.value is None:
        return f"{verdict.name} failed: no value"
    if verdict.min is not None and verdict.value < verdict.min:
        bound = f"is below min {_number(verdict.min, verdict.unit)}"
    elif verdict.max is not None and verdict.value > verdict.max:
        bound = f"is above max {_number(verdict.max, verdict.unit)}"
    else:
        bound = "failed"
    return f"{verdict.name} {_number(verdict.value, verdict.unit)} {bound}"


def insufficient_data(verdict: MetricVerdict) -> str:
    return verdict.reason or f"{verdict.name}: too little canary traffic to judge"


def hook_failure(result: HookResult) -> str:
    detail = f": {result.message}" if result.message else ""
    return f'{result.type} hook "{result.name}" failed{detail}'


def gate_wait(result: HookResult, since: str) -> str:
    return f'waiting for {result.type} gate "{result.name}" since {clock(since)}'
