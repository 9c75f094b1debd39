"""What the runtime saw this tick, handed to the engine as plain data.

The engine never looks at the world itself. Readiness and revisions are described structurally
(anything with `state`/`reason`, or `spec_hash`/`tracked_configs`), so the ports' own dataclasses
(controller.ports.platform.Readiness, Revision) can be passed as they are without the engine importing
the ports.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal, Protocol

from controller.api.routes import Routes
from controller.api.status import CheckOutcome

CommandKind = Literal["promote", "abort", "pause", "resume", "retry"]


class ReadinessLike(Protocol):
    @property
    def state(self) -> Literal["ready", "waiting", "failed"]: ...

    @property
    def reason(self) -> str: ...


class RevisionLike(Protocol):
    @property
    def spec_hash(self) -> str: ...

    @property
    def tracked_configs(self) -> Mapping[str, str]: ...


@dataclass(frozen=True)
class MetricVerdict:
    """One metric check, judged by the analysis package.

    `insufficient-data` means the canary saw too little traffic to judge; it is not a failure.
    A query that returned nothing or errored is a `fail` whose `reason` says so.
    """

    name: str
    outcome: CheckOutcome
    value: float | None = None
    min: float | None = None
    max: float | None = None
    unit: str = ""
    query: str = ""
    reason: str = ""


@dataclass(frozen=True)
class HookResult:
    """The answer of one webhook: `ok` is a status <= 202; `message` is the body or the error."""

    name: str
    type: str
    ok: bool
    message: str = ""


@dataclass(frozen=True)
class ManualCommand:
    """A user's command (`sluice promote|abort|pause|resume|retry`); `id` makes it act once."""

    kind: CommandKind
    id: str
    by: str = ""


@dataclass(frozen=True)
class Observations:
    """One tick's inputs. The first six are always gathered; `hooks` and `metrics` only as planned."""

    revision: RevisionLike
    primary: ReadinessLike
    canary: ReadinessLike
    # Live weights read back from the router; None when there is nothing to read yet.
    routes: Routes | None = None
    command: ManualCommand | None = None
    deleting: bool = False
    hooks: tuple[HookResult, ...] = ()
    metrics: tuple[MetricVerdict, ...] | None = None


class MissingObservation(LookupError):
    """advance() needed an input that plan() asked for and the runtime did not supply."""
