"""One tick's working state: the status being drafted, the actions so far, and access to inputs.

plan() and advance() run the very same phase handlers through this object. When planning, every hook
and metric the handlers ask for is recorded and answered optimistically (all pass), which walks the
longest path the tick can take; when advancing, the answers come from the observations. A failing
answer always ends the tick, so what advance() asks for is always a subset of what plan() listed.
"""

from __future__ import annotations

from datetime import datetime

from controller.api.canary import Canary, CanaryAnalysis, CanaryWebhook
from controller.api.routes import Routes
from controller.api.status import CanaryCondition, CanaryStatus
from controller.engine.actions import Action, Alert, RecordEvent, RunHooks, SetRoutes, Severity
from controller.engine.decision import Decision, Needs
from controller.engine.observations import HookResult, MetricVerdict, MissingObservation, Observations
from controller.engine.reasons import parse_stamp, stamp
from controller.engine.transitions import next_phase

_CONDITIONS = {
    "Initializing": ("Unknown", "New workload detected, starting initialization."),
    "Initialized": ("True", "Initialization completed: the primary serves all traffic."),
    "Waiting": ("Unknown", "Waiting for approval to start the rollout."),
    "Progressing": ("Unknown", "New revision detected, progressing canary analysis."),
    "WaitingPromotion": ("Unknown", "Waiting for approval to promote."),
    "Promoting": ("Unknown", "Canary analysis completed, starting primary rolling update."),
    "Finalising": ("Unknown", "Canary analysis completed, routing all traffic to primary."),
    "Succeeded": ("True", "Canary analysis completed successfully, promotion finished."),
    "Failed": ("False", "Canary analysis failed, canary scaled to zero."),
    "Terminating": ("Unknown", "Canary is being deleted, reverting the target."),
    "Terminated": ("Unknown", "Canary deleted, target reverted."),
}


class Tick:
    def __init__(self, canary: Canary, observations: Observations, now: datetime, planning: bool) -> None:
        self.canary = canary
        self.analysis: CanaryAnalysis = canary.spec.get_analysis()
        self.observations = observations
        self.now = now
        self.planning = planning
        self.before = canary.status or CanaryStatus()
        self.status = self.before.model_copy(deep=True)
        self.status.waiting_for = None
        self.status.waiting_since = None
        self.actions: list[Action] = []
        self.reason = ""
        self.notes: list[str] = []
        self._hooks_asked: list[str] = []
        self._metrics_asked = False

    # ---- identity -------------------------------------------------------------------------------
    @property
    def name(self) -> str:
        return f"{self.canary.metadata.name}.{self.canary.metadata.namespace}"

    @property
    def target(self) -> str:
        return self.canary.spec.target_ref.name

    # ---- inputs ---------------------------------------------------------------------------------
    def webhooks(self, kind: str) -> list[CanaryWebhook]:
        return [w for w in self.analysis.webhooks or [] if w.hook_type() == kind]

    def hooks(self, kind: str) -> list[HookResult]:
        """Results of every webhook of `kind`; asks for them (in planning, all pass)."""
        if not self.webhooks(kind):
            return []
        if kind not in self._hooks_asked:
            self._hooks_asked.append(kind)
        if self.planning:
            return []
        results = [r for r in self.observations.hooks if r.type == kind]
        if not results:
            raise MissingObservation(f"no results for {kind} hooks; plan() asked for them")
        return results

    def first_failure(self, kind: str) -> HookResult | None:
        return next((r for r in self.hooks(kind) if not r.ok), None)

    def verdicts(self) -> tuple[MetricVerdict, ...]:
        if not self.analysis.metrics:
            return ()
        self._metrics_asked = True
        if self.planning:
            return ()
        if self.observations.metrics is None:
            raise MissingObservation("no metric verdicts; plan() asked for them")
        return self.observations.metrics

    @property
    def live(self) -> Routes:
        """Weights in the data plane now; status only when the router had nothing to report."""
        if self.observations.routes is not None:
            return self.observations.routes
        weight = self.before.canary_weight
        return Routes(100 - weight, weight, mirrored=self.before.mirrored)

    def seconds_since(self, moment: str) -> float:
        return (self.now - parse_stamp(moment)).total_seconds()

    # ---- outputs --------------------------------------------------------------------------------
    def act(self, *actions: Action) -> None:
        self.actions.extend(actions)

    def say(self, reason: str) -> None:
        self.reason = reason

    def note(self, text: str) -> None:
        self.notes.append(text)

    def set_routes(self, routes: Routes) -> None:
        """Route traffic; status weight is the canary's share of *all* traffic (0 for an A/B match)."""
        self.act(SetRoutes(routes))
        self.status.canary_weight = 0 if routes.matched else routes.canary_weight
        self.status.mirrored = routes.mirrored

    def move(self, trigger: str) -> None:
        self.status.phase = next_phase(self.status.phase, trigger)

    def event(self, message: str, warning: bool = False) -> None:
        kind = "Warning" if warning else "Normal"
        self.act(RecordEvent(kind, message))
        if self.webhooks("event"):
            self.act(RunHooks("event", self.status.phase, message=message, event_type=kind))

    def alert(self, severity: Severity, message: str) -> None:
        self.act(Alert(severity, message))

    def hold(self, waiting_for: str, limit_seconds: float | None = None) -> bool:
        """Stay put waiting on `waiting_for`; True once that wait has lasted `limit_seconds`."""
        same = self.before.waiting_for == waiting_for and self.before.waiting_since
        since = self.before.waiting_since if same else stamp(self.now)
        self.status.waiting_for, self.status.waiting_since = waiting_for, since
        return limit_seconds is not None and self.seconds_since(since) >= limit_seconds

    # ---- results --------------------------------------------------------------------------------
    def needs(self) -> Needs:
        return Needs(hooks=tuple(self._hooks_asked), metrics=self._metrics_asked)

    def decision(self) -> Decision:
        reason = "; ".join([*self.notes, self.reason] if self.reason else self.notes)
        status = self.status
        status.last_reason = reason
        progressed = (status.phase, status.canary_weight, status.iterations) != (
            self.before.phase, self.before.canary_weight, self.before.iterations)
        if progressed:
            status.last_transition_time = stamp(self.now)
        if status.phase != self.before.phase and status.phase in _CONDITIONS:
            state, message = _CONDITIONS[status.phase]
            status.conditions = [CanaryCondition(
                type="Promoted", status=state, reason=status.phase, message=message,
                last_update_time=stamp(self.now), last_transition_time=stamp(self.now))]
        return Decision(status=status, actions=tuple(self.actions), reason=reason)
