"""The MetricProvider port: one query in, one float out.

Flagger's provider interface (`RunQuery`, `IsOnline`) answers "no series" and "several series" with
errors that callers used to lump together with outages, so an idle canary and a broken Prometheus looked
alike (Flagger #883, #1035). Here each outcome has its own exception, so the checks can tell
"insufficient data" (wait) from "provider broken" (fail) from "query is wrong" (fail, fix the template).
"""

from __future__ import annotations

from typing import Protocol


class MetricQueryError(Exception):
    """Base of everything a provider raises for a query that gave no usable single value."""


class NoValues(MetricQueryError):
    """The query ran and matched nothing (or NaN): typically the canary got no traffic in the window."""


class MultipleValues(MetricQueryError):
    """The query ran and returned more than one series; a check needs exactly one number."""


class ProviderError(MetricQueryError):
    """The provider could not answer: unreachable, timed out, refused auth, or rejected the query."""


class MetricProvider(Protocol):
    # The language `query` understands: "promql" for Prometheus, "proxy-window" for the bundled proxy's
    # windowed stats. Builtin metrics pick their query templates by it (see analysis/builtin.py).
    dialect: str

    def query(self, text: str) -> float:
        """The single value `text` evaluates to now; raises NoValues, MultipleValues or ProviderError."""
        ...

    def is_online(self) -> bool:
        """True when the provider answers a trivial query correctly."""
        ...
