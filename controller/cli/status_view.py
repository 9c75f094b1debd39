"""What `sluice status` draws: pure functions from canaries and snapshots to text and rich renderables.

Nothing here reads a store, a proxy or the clock (`now` is passed in), so every screen is unit-tested from
constructed statuses. The layout follows Argo Rollouts' `get rollout` summary card (17-column labels,
desired next to live weight) and adds what it lacks: the checks' values against their ranges, the reason
of the last decision, the gate being waited on and since when, a progress bar and an estimate of the
time left.
"""

from __future__ import annotations

import io
import math
from datetime import datetime
from typing import Any

from rich.console import Console, Group, RenderableType
from rich.table import Table
from rich.text import Text

from controller.api.canary import Canary
from controller.api.status import CanaryStatus, CheckVerdict
from controller.cli.backend import Snapshot
from controller.cli.resources import age, table
from controller.cli.traffic_view import traffic_section
from controller.engine.reasons import clock
from controller.engine.transitions import GATED
from controller.engine.weights import schedule

LABEL_WIDTH = 17

PHASE_STYLE: dict[str, tuple[str, str]] = {
    "": ("◷", "yellow"),
    "Initializing": ("◌", "bright_blue"),
    "Initialized": ("✔", "green"),
    "Waiting": ("॥", "yellow"),
    "Progressing": ("◌", "bright_blue"),
    "WaitingPromotion": ("॥", "yellow"),
    "Promoting": ("◌", "green"),
    "Finalising": ("◌", "green"),
    "Succeeded": ("✔", "green"),
    "Failed": ("✖", "red"),
    "Terminating": ("◌", "yellow"),
    "Terminated": ("•", "default"),
}
OUTCOME_STYLE = {"pass": ("✔", "green"), "fail": ("✖", "red"), "insufficient-data": ("?", "yellow")}

# Phases in which a run is under way and steps count.
RUNNING = GATED | {"Promoting", "Finalising"}


def status_of(canary: Canary) -> CanaryStatus:
    return canary.status or CanaryStatus()


def short(revision: str | None) -> str:
    return revision[:10] if revision else "-"


def duration(seconds: float) -> str:
    """`300ms`, `45s`, `1m20s`, `2h5m`: finer than `age()`, for how long a run took and has left."""
    if 0 < seconds < 1:
        return f"{seconds * 1000:.0f}ms"
    total = max(round(seconds), 0)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes}m" if minutes else f"{hours}h"
    if minutes:
        return f"{minutes}m{secs}s" if secs else f"{minutes}m"
    return f"{secs}s"


def _number(value: float, unit: str) -> str:
    """Four significant digits (`78.26%`, `8.594ms`), whole numbers from 1000 up (`1250ms`)."""
    return f"{value:.4g}{unit}" if abs(value) < 1000 else f"{value:.0f}{unit}"


# ---- cells --------------------------------------------------------------------------------------------


def phase_label(status: CanaryStatus) -> str:
    icon, _ = PHASE_STYLE.get(status.phase, ("?", "yellow"))
    paused = " (paused)" if status.paused else ""
    return f"{icon} {status.phase or 'New'}{paused}"


def phase_text(status: CanaryStatus) -> Text:
    return Text(phase_label(status), style=PHASE_STYLE.get(status.phase, ("?", "yellow"))[1])


def weights(canary_weight: int, primary_weight: int | None = None) -> str:
    """`canary/primary`, e.g. `20/80`."""
    return f"{canary_weight}/{100 - canary_weight if primary_weight is None else primary_weight}"


def weight_cell(canary: Canary) -> str:
    """Desired weights; A/B weights apply to matching requests only, mirroring copies primary traffic."""
    status = status_of(canary)
    text = weights(status.canary_weight)
    if canary.spec.get_analysis().effective_strategy() == "ab" and status.canary_weight:
        text += " match"
    if status.mirrored:
        text += " mirror"
    return text


def total_steps(canary: Canary) -> int:
    """Steps of a full run: the status' count once running, else what the spec schedules."""
    status, analysis = status_of(canary), canary.spec.get_analysis()
    if status.total_steps:
        return status.total_steps
    if analysis.effective_strategy() == "canary":
        return len(schedule(analysis))
    return analysis.iterations


def progress(canary: Canary) -> tuple[int, int]:
    """(steps done, steps in all) of the current run; a Succeeded run is complete."""
    status, total = status_of(canary), total_steps(canary)
    if status.phase == "Succeeded":
        return total, total
    if status.phase in RUNNING:
        return min(status.step, total), total
    return 0, total


def step_cell(canary: Canary) -> str:
    status = status_of(canary)
    if status.phase not in RUNNING:
        return "-"
    done, total = progress(canary)
    return f"{done}/{total}"


def failed_cell(canary: Canary) -> str:
    return f"{status_of(canary).failed_checks}/{canary.spec.get_analysis().failed_checks_threshold()}"


# ---- estimates ----------------------------------------------------------------------------------------


def ticks_left(canary: Canary) -> int | None:
    """Analysis ticks until Succeeded if every check passes; None while waiting on someone or idle.

    The tick at the last step decides to promote; Promoting shifts traffic back (at once, or by
    stepWeightPromotion per tick); Finalising makes it Succeeded.
    """
    status, analysis = status_of(canary), canary.spec.get_analysis()
    if status.paused or status.phase not in ("Progressing", "Promoting", "Finalising"):
        return None
    step_back = analysis.step_weight_promotion
    if status.phase == "Finalising":
        return 1
    if status.phase == "Promoting":
        return (math.ceil(status.canary_weight / step_back) if step_back > 0 else 1) + 1
    promotion = (math.ceil(analysis.effective_max_weight() / step_back) if step_back > 0 else 1) + 1
    done, total = progress(canary)
    switch = 1 if analysis.effective_strategy() == "bluegreen" else 0
    return max(total - done, 0) + 1 + switch + promotion


def time_left(canary: Canary) -> float | None:
    ticks = ticks_left(canary)
    return None if ticks is None else ticks * canary.spec.get_analysis().interval_seconds()


def run_time(status: CanaryStatus, now: datetime) -> tuple[float, bool] | None:
    """(seconds, still running) of the current or last run."""
    if not status.rollout_started_at:
        return None
    started = datetime.fromisoformat(status.rollout_started_at)
    if status.phase in RUNNING:
        return (now - started).total_seconds(), True
    ended = datetime.fromisoformat(status.last_transition_time) if status.last_transition_time else now
    return (ended - started).total_seconds(), False


# ---- the table ----------------------------------------------------------------------------------------


def status_table(canaries: list[Canary], now: datetime, wide: bool = False, namespaces: bool = False) -> str:
    header = ["NAME", "PHASE", "WEIGHT", "STEP", "FAILED CHECKS", "AGE"]
    if namespaces:
        header.insert(0, "NAMESPACE")
    if wide:
        header += ["STRATEGY", "INTERVAL", "LAST REASON"]
    rows = [header]
    for canary in canaries:
        status, analysis = status_of(canary), canary.spec.get_analysis()
        row = [canary.metadata.name, phase_label(status), weight_cell(canary), step_cell(canary),
               failed_cell(canary), age(status.last_transition_time, now)]
        if namespaces:
            row.insert(0, canary.metadata.namespace)
        if wide:
            row += [analysis.effective_strategy(), analysis.interval, status.last_reason or "-"]
        rows.append(row)
    return table(rows)


# ---- structured output --------------------------------------------------------------------------------


def record(canary: Canary) -> dict[str, Any]:
    """One canary for `-o json|yaml`: the table's figures as numbers, plus the whole status."""
    status, analysis = status_of(canary), canary.spec.get_analysis()
    done, total = progress(canary)
    return {
        "name": canary.metadata.name,
        "namespace": canary.metadata.namespace,
        "phase": status.phase,
        "strategy": analysis.effective_strategy(),
        "interval": analysis.interval,
        "canaryWeight": status.canary_weight,
        "primaryWeight": 100 - status.canary_weight,
        "step": done,
        "totalSteps": total,
        "failedChecks": status.failed_checks,
        "threshold": analysis.failed_checks_threshold(),
        "lastTransitionTime": status.last_transition_time,
        "lastReason": status.last_reason,
        "status": status.wire(),
    }


def detail_record(snap: Snapshot, events: int = 10) -> dict[str, Any]:
    status = status_of(snap.canary)
    ran, left = run_time(status, snap.taken_at), time_left(snap.canary)
    live = snap.live
    return {
        **record(snap.canary),
        "revisions": {
            "primary": status.last_promoted_spec,
            "canary": status.last_applied_spec,
            "target": snap.target_revision,
        },
        "liveWeights": None if live is None else {
            "canary": live.canary_weight, "primary": live.primary_weight,
            "mirrored": live.mirrored, "matched": live.matched,
        },
        "runSeconds": None if ran is None else ran[0],
        "secondsLeft": left,
        "events": [
            {"timestamp": e.timestamp, "type": e.type, "reason": e.reason, "message": e.message}
            for e in snap.events[-events:]
        ],
    }


# ---- the detail card ----------------------------------------------------------------------------------


def _range(check: CheckVerdict) -> str:
    if check.min is not None and check.max is not None:
        return f"{_number(check.min, check.unit)} .. {_number(check.max, check.unit)}"
    if check.min is not None:
        return f">= {_number(check.min, check.unit)}"
    if check.max is not None:
        return f"<= {_number(check.max, check.unit)}"
    return "-"


def _value(check: CheckVerdict) -> str:
    return "no data" if check.value is None else _number(check.value, check.unit)


def checks_table(checks: list[CheckVerdict]) -> Table:
    grid = Table(box=None, pad_edge=False, padding=(0, 2, 0, 0), show_edge=False)
    for column in ("CHECK", "OUTCOME", "VALUE", "RANGE", "REASON"):
        grid.add_column(column, no_wrap=column != "REASON")
    for check in checks:
        icon, style = OUTCOME_STYLE[check.outcome]
        grid.add_row(check.name, Text(f"{icon} {check.outcome}", style=style), _value(check), _range(check),
                     check.reason or "")
    return grid


def events_table(snap: Snapshot, limit: int) -> Table:
    grid = Table(box=None, pad_edge=False, padding=(0, 2, 0, 0), show_edge=False)
    for column in ("TIME", "AGE", "TYPE", "MESSAGE"):
        grid.add_column(column, no_wrap=column != "MESSAGE")
    for event in snap.events[-limit:]:
        when = clock(event.timestamp) if event.timestamp else "-"
        style = "red" if event.type == "Warning" else ""
        grid.add_row(when, age(event.timestamp or None, snap.taken_at), Text(event.type, style=style),
                     event.message)
    return grid


def bar(done: int, total: int, width: int = 30) -> str:
    """`██████░░░░`: readable without colour too (rich's bar draws the unfilled part as blanks there)."""
    filled = round(width * done / total) if total else 0
    return "█" * filled + "░" * (width - filled)


def progress_line(snap: Snapshot) -> Text:
    """`██████░░░░ 2/5 steps · canary 40%`: the rollout at a glance."""
    status = status_of(snap.canary)
    done, total = progress(snap.canary)
    style = {"Failed": "red", "Succeeded": "green"}.get(status.phase, "bright_blue")
    text = Text(bar(done, total), style=style)
    text.append(f" {done}/{total} steps · canary {status.canary_weight}%", style="")
    return text


def _revisions(snap: Snapshot) -> str:
    status = status_of(snap.canary)
    primary, applied = status.last_promoted_spec, status.last_applied_spec
    text = f"primary {short(primary)}"
    text += "  canary " + ("(same as primary)" if applied == primary else short(applied))
    if snap.target_revision and snap.target_revision not in (applied, primary):
        text += f"  target {short(snap.target_revision)} (not picked up yet)"
    return text


def _weights(snap: Snapshot) -> Text:
    status, live = status_of(snap.canary), snap.live
    text = Text(f"desired {weight_cell(snap.canary)}")
    if live is None:
        text.append("  live unknown (no route read from the proxy)", style="dim")
    else:
        extra = " mirror" if live.mirrored else ""
        extra += " match" if live.matched else ""
        differs = live.canary_weight != status.canary_weight
        text.append(f"  live {weights(live.canary_weight, live.primary_weight)}{extra}",
                    style="yellow" if differs else "")
    text.append("  (canary/primary)", style="dim")
    return text


def _strategy(canary: Canary) -> str:
    analysis = canary.spec.get_analysis()
    strategy = analysis.effective_strategy()
    if strategy == "canary":
        steps = (f"step {analysis.step_weight}" if analysis.step_weight
                 else f"steps {','.join(map(str, analysis.step_weights or []))}")
        shape = f"{steps}, max {analysis.effective_max_weight()}"
    else:
        shape = f"{analysis.iterations} iterations"
    return f"{strategy} ({shape}, every {analysis.interval}, threshold {analysis.failed_checks_threshold()})"


def _timing(snap: Snapshot) -> list[tuple[str, str]]:
    status = status_of(snap.canary)
    lines = []
    ran = run_time(status, snap.taken_at)
    if ran is not None:
        seconds, running = ran
        since = clock(status.rollout_started_at) if status.rollout_started_at else "-"
        lines.append(("Running for:" if running else "Took:", f"{duration(seconds)} (since {since})"))
    ticks = ticks_left(snap.canary)
    if ticks is not None:
        interval = snap.canary.spec.get_analysis().interval_seconds()
        lines.append(("Time left:", f"about {duration(ticks * interval)} "
                      f"({ticks} ticks of {duration(interval)}, promotion included)"))
    if status.waiting_for:
        since, when = status.waiting_since, ""
        if since:
            waited = (snap.taken_at - datetime.fromisoformat(since)).total_seconds()
            when = f" since {clock(since)} ({duration(waited)})"
        lines.append(("Waiting for:", status.waiting_for + when))
    return lines


def _card(rows: list[tuple[str, str | Text]]) -> Text:
    text = Text()
    for index, (label, value) in enumerate(rows):
        if index:
            text.append("\n")
        text.append(label.ljust(LABEL_WIDTH))
        text.append(value)
    return text


def detail(snap: Snapshot, events: int = 10) -> RenderableType:
    """`sluice status NAME`: the summary card, progress, the last checks, the events timeline."""
    canary, status = snap.canary, status_of(snap.canary)
    done, total = progress(canary)
    rows: list[tuple[str, str | Text]] = [
        ("Name:", canary.metadata.name),
        ("Namespace:", canary.metadata.namespace),
        ("Status:", phase_text(status)),
    ]
    if status.last_reason:
        rows.append(("Message:", status.last_reason))
    rows += [
        ("Strategy:", _strategy(canary)),
        ("  Step:", f"{done}/{total}"),
        ("  Weights:", _weights(snap)),
        ("  Failed checks:", failed_cell(canary)),
        ("Revisions:", _revisions(snap)),
        *_timing(snap),
    ]
    parts: list[RenderableType] = [_card(rows), Text(), progress_line(snap)]
    if status.last_checks:
        parts += [Text(), Text("Checks (last analysis)", style="bold"), checks_table(status.last_checks)]
    if snap.traffic:
        parts += traffic_section(snap.traffic)
    if snap.events:
        shown = min(events, len(snap.events))
        parts += [Text(), Text(f"Events (latest {shown} of {len(snap.events)})", style="bold"),
                  events_table(snap, events)]
    return Group(*parts)


def watch_card(snap: Snapshot, events: int = 10) -> RenderableType:
    """The detail card with a footer saying it is live and how it ends."""
    footer = Text(f"updated {snap.taken_at.strftime('%H:%M:%S')} · exits when the rollout ends "
                  "(0 promoted, 1 rolled back, 2 waiting for approval) · Ctrl-C to stop", style="dim")
    return Group(detail(snap, events), Text(), footer)


# ---- one-line forms (no TTY, `sluice wait`) -----------------------------------------------------------


def change_line(snap: Snapshot) -> str:
    """`12:01:05 podinfo Progressing weight 40/60 step 2/5 failed 0/2: advance canary weight 20 -> 40`."""
    canary, status = snap.canary, status_of(snap.canary)
    when = snap.taken_at.strftime("%H:%M:%S")
    line = (f"{when} {canary.metadata.name} {status.phase or 'New'}{' (paused)' if status.paused else ''}"
            f" weight {weight_cell(canary)} step {step_cell(canary)} failed {failed_cell(canary)}")
    return line + (f": {status.last_reason}" if status.last_reason else "")


def ending(code: int, snap: Snapshot, timeout: float | None = None) -> str:
    """The last line of a watch or wait: how it ended, in words that match the exit code."""
    name, status = snap.canary.metadata.name, status_of(snap.canary)
    reason = f": {status.last_reason}" if status.last_reason else ""
    if code == 3:
        return f"timed out after {duration(timeout or 0)}; {name} is {status.phase or 'New'}{reason}"
    if status.phase == "Succeeded":
        return f"{name} promoted (Succeeded){reason}"
    if status.phase == "Failed":
        return f"{name} rolled back (Failed){reason}"
    if code == 2:
        return f"{name} is waiting for approval ({status.waiting_for or status.phase}){reason}"
    return f"{name} is {status.phase or 'New'}{reason}"


def to_text(renderable: RenderableType, width: int = 110) -> str:
    """Plain text of a renderable (no colour): what a pipe or a test sees."""
    buffer = io.StringIO()
    Console(file=buffer, width=width, color_system=None, force_terminal=False).print(renderable)
    return "\n".join(line.rstrip() for line in buffer.getvalue().rstrip("\n").splitlines())
