"""`sluice status` screens, rendered from constructed statuses: the table, the detail card, one-liners."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from controller.api.routes import Routes
from controller.api.status import CanaryStatus, CheckVerdict
from controller.cli.backend import Snapshot
from controller.cli.status_view import (
    bar,
    change_line,
    detail,
    detail_record,
    duration,
    ending,
    record,
    status_table,
    ticks_left,
    time_left,
    to_text,
    watch_card,
)
from controller.ports.store import Event
from tests.unit.cli.fakes import canary

NOW = datetime(2026, 11, 29, 12, 5, 0, tzinfo=UTC)
PRIMARY, CANARY = "a1" * 32, "b2" * 32

PROGRESSING = CanaryStatus(
    phase="Progressing",
    canary_weight=40,
    step=2,
    total_steps=3,
    failed_checks=1,
    last_applied_spec=CANARY,
    last_promoted_spec=PRIMARY,
    last_transition_time="2026-11-29T12:04:30Z",
    rollout_started_at="2026-11-29T12:03:00Z",
    last_reason="request-duration 620ms is above max 500ms; failed checks 1/2",
    last_checks=[
        CheckVerdict(name="request-success-rate", outcome="pass", value=99.5123, min=99, unit="%"),
        CheckVerdict(name="request-duration", outcome="fail", value=1620.4, max=500, unit="ms",
                     reason="p99 of 3s window"),
        CheckVerdict(name="error-budget", outcome="insufficient-data", min=1, max=5,
                     reason="12 requests, need 20"),
    ],
)


def rows(text: str) -> list[list[str]]:
    return [line.split(None) for line in text.splitlines()]


def test_table_shows_phase_weights_step_failed_checks_and_age() -> None:
    text = status_table([canary(PROGRESSING)], NOW)
    header, row = text.splitlines()
    assert header.split("   ")[0] == "NAME" and "FAILED CHECKS" in header
    assert header.split() == ["NAME", "PHASE", "WEIGHT", "STEP", "FAILED", "CHECKS", "AGE"]
    assert row.split() == ["podinfo", "◌", "Progressing", "40/60", "2/3", "1/2", "30s"]


def test_wide_adds_strategy_interval_and_last_reason_and_all_namespaces_adds_namespace() -> None:
    text = status_table([canary(PROGRESSING, namespace="shop")], NOW, wide=True, namespaces=True)
    header, row = text.splitlines()
    assert header.split()[0] == "NAMESPACE" and header.endswith("STRATEGY   INTERVAL   LAST REASON")
    assert row.startswith("shop ") and "canary     3s " in row
    assert row.endswith("request-duration 620ms is above max 500ms; failed checks 1/2")


@pytest.mark.parametrize(
    ("status", "analysis", "weight", "step"),
    [
        (CanaryStatus(phase="Succeeded", last_transition_time="2026-11-29T12:00:00Z"), {}, "0/100", "-"),
        (CanaryStatus(phase="Initialized"), {}, "0/100", "-"),
        (CanaryStatus(phase="Progressing", canary_weight=100, step=1, total_steps=4),
         {"iterations": 4, "stepWeight": None, "maxWeight": None,
          "match": [{"headers": {"x-canary": {"exact": "1"}}}]}, "100/0 match", "1/4"),
        (CanaryStatus(phase="Progressing", mirrored=True), {"mirror": True}, "0/100 mirror", "0/3"),
        (CanaryStatus(phase="WaitingPromotion", canary_weight=60, step=3, total_steps=3, paused=True),
         {}, "60/40", "3/3"),
    ],
)
def test_weight_and_step_cells(status: CanaryStatus, analysis: dict, weight: str, step: str) -> None:
    row = status_table([canary(status, **analysis)], NOW).splitlines()[1]
    cells = [cell.strip() for cell in row.split("   ") if cell.strip()]
    assert cells[2:4] == [weight, step]


def test_a_paused_rollout_says_so_and_a_new_canary_is_new() -> None:
    paused = CanaryStatus(phase="Progressing", paused=True)
    assert "◌ Progressing (paused)" in status_table([canary(paused)], NOW)
    assert "◷ New" in status_table([canary(CanaryStatus())], NOW)
    assert "◷ New" in status_table([canary(None)], NOW)


def test_record_gives_numbers_and_the_whole_status() -> None:
    data = record(canary(PROGRESSING))
    assert data["canaryWeight"] == 40 and data["primaryWeight"] == 60
    assert (data["step"], data["totalSteps"], data["failedChecks"], data["threshold"]) == (2, 3, 1, 2)
    assert data["strategy"] == "canary" and data["interval"] == "3s"
    assert data["status"]["lastChecks"][1]["value"] == 1620.4


def snapshot(status: CanaryStatus, live: Routes | None = None, events: list[Event] | None = None,
             target: str | None = None, **analysis: object) -> Snapshot:
    return Snapshot(canary(status, **analysis), events or [], live, target, NOW)


def card(snap: Snapshot, events: int = 10) -> str:
    return to_text(detail(snap, events), width=140)


def test_detail_card_shows_revisions_desired_vs_live_weights_and_the_last_decision() -> None:
    text = card(snapshot(PROGRESSING, live=Routes(80, 20)))
    lines = text.splitlines()
    assert lines[:4] == ["Name:            podinfo", "Namespace:       default",
                         "Status:          ◌ Progressing",
                         "Message:         request-duration 620ms is above max 500ms; failed checks 1/2"]
    assert "Strategy:        canary (step 20, max 60, every 3s, threshold 2)" in lines
    assert "  Step:          2/3" in lines
    assert "  Weights:       desired 40/60  live 20/80  (canary/primary)" in lines
    assert "  Failed checks: 1/2" in lines
    assert "Revisions:       primary a1a1a1a1a1  canary b2b2b2b2b2" in lines
    assert "Running for:     2m (since 12:03:00)" in lines
    # 1 step left + the promoting decision + Promoting + Finalising, 3s each.
    assert "Time left:       about 12s (4 ticks of 3s, promotion included)" in lines


def test_detail_card_shows_each_check_value_against_its_range() -> None:
    lines = card(snapshot(PROGRESSING)).splitlines()
    start = lines.index("Checks (last analysis)")
    table = rows("\n".join(lines[start + 1:start + 5]))
    assert table[0] == ["CHECK", "OUTCOME", "VALUE", "RANGE", "REASON"]
    assert table[1] == ["request-success-rate", "✔", "pass", "99.51%", ">=", "99%"]
    assert table[2] == ["request-duration", "✖", "fail", "1620ms", "<=", "500ms", "p99", "of", "3s", "window"]
    assert table[3][:6] == ["error-budget", "?", "insufficient-data", "no", "data", "1"]
    assert " ".join(table[3]).endswith("1 .. 5 12 requests, need 20")


def test_detail_card_shows_the_gate_waited_on_since_when_and_no_estimate_while_waiting() -> None:
    waiting = PROGRESSING.model_copy(update={
        "phase": "WaitingPromotion", "canary_weight": 60, "step": 3,
        "waiting_for": "gate:confirm-promotion", "waiting_since": "2026-11-29T12:04:00Z"})
    lines = card(snapshot(waiting)).splitlines()
    assert "Waiting for:     gate:confirm-promotion since 12:04:00 (1m)" in lines
    assert not any(line.startswith("Time left:") for line in lines)
    assert "██████████████████████████████ 3/3 steps · canary 60%" in lines


def test_detail_card_without_a_proxy_or_a_run_says_what_it_cannot_know() -> None:
    idle = CanaryStatus(phase="Initialized", last_applied_spec=PRIMARY, last_promoted_spec=PRIMARY)
    lines = card(snapshot(idle, target=CANARY)).splitlines()
    assert ("  Weights:       desired 0/100  live unknown (no route read from the proxy)  "
            "(canary/primary)") in lines
    assert ("Revisions:       primary a1a1a1a1a1  canary (same as primary)  target b2b2b2b2b2 "
            "(not picked up yet)") in lines
    assert not any(line.startswith(("Running for:", "Took:", "Time left:")) for line in lines)
    assert "░" * 30 + " 0/3 steps · canary 0%" in lines


def test_ab_weights_apply_to_matching_requests() -> None:
    ab = CanaryStatus(phase="Progressing", canary_weight=100, iterations=2, step=2, total_steps=4)
    analysis = {"iterations": 4, "stepWeight": None, "maxWeight": None,
                "match": [{"headers": {"x-canary": {"exact": "1"}}}]}
    lines = card(snapshot(ab, live=Routes(0, 100, matched=True), **analysis)).splitlines()
    assert "  Weights:       desired 100/0 match  live 100/0 match  (canary/primary)" in lines
    assert "Strategy:        ab (4 iterations, every 3s, threshold 2)" in lines


def test_a_finished_run_shows_how_long_it_took() -> None:
    done = CanaryStatus(phase="Succeeded", rollout_started_at="2026-11-29T12:00:00Z",
                        last_transition_time="2026-11-29T12:01:25Z")
    lines = card(snapshot(done)).splitlines()
    assert "Took:            1m25s (since 12:00:00)" in lines
    assert "█" * 30 + " 3/3 steps · canary 0%" in lines


def test_events_timeline_shows_the_latest_n() -> None:
    events = [Event("default", "podinfo", "Normal", "Synced", f"event {i}", f"2026-11-29T12:0{i}:00Z")
              for i in range(5)]
    events[4] = Event("default", "podinfo", "Warning", "Synced", "Rolling back podinfo.default: boom",
                      "2026-11-29T12:04:00Z")
    lines = card(snapshot(PROGRESSING, events=events), events=3).splitlines()
    start = lines.index("Events (latest 3 of 5)")
    assert rows("\n".join(lines[start + 1:])) == [
        ["TIME", "AGE", "TYPE", "MESSAGE"],
        ["12:02:00", "3m", "Normal", "event", "2"],
        ["12:03:00", "2m", "Normal", "event", "3"],
        ["12:04:00", "1m", "Warning", "Rolling", "back", "podinfo.default:", "boom"],
    ]


def test_detail_record_adds_revisions_live_weights_estimate_and_events() -> None:
    stamp = "2026-11-29T12:00:00Z"
    events = [Event("default", "podinfo", "Normal", "Synced", f"e{i}", stamp) for i in range(4)]
    data = detail_record(snapshot(PROGRESSING, live=Routes(60, 40), events=events, target=CANARY), events=2)
    assert data["revisions"] == {"primary": PRIMARY, "canary": CANARY, "target": CANARY}
    assert data["liveWeights"] == {"canary": 40, "primary": 60, "mirrored": False, "matched": False}
    assert data["runSeconds"] == 120 and data["secondsLeft"] == 12
    assert [e["message"] for e in data["events"]] == ["e2", "e3"]


@pytest.mark.parametrize(
    ("status", "analysis", "ticks"),
    [
        (CanaryStatus(phase="Progressing", step=0), {}, 3 + 1 + 2),
        (CanaryStatus(phase="Progressing", step=1, total_steps=3), {}, 2 + 1 + 2),
        (CanaryStatus(phase="Progressing", step=1, total_steps=3), {"stepWeightPromotion": 20},
         2 + 1 + 3 + 1),
        (CanaryStatus(phase="Promoting", canary_weight=40), {"stepWeightPromotion": 20}, 2 + 1),
        (CanaryStatus(phase="Promoting", canary_weight=60), {}, 2),
        (CanaryStatus(phase="Finalising"), {}, 1),
        (CanaryStatus(phase="Progressing", iterations=1, step=1, total_steps=4),
         {"iterations": 4, "stepWeight": None, "maxWeight": None}, 3 + 1 + 1 + 2),
        (CanaryStatus(phase="WaitingPromotion", step=3, total_steps=3), {}, None),
        (CanaryStatus(phase="Progressing", paused=True), {}, None),
        (CanaryStatus(phase="Waiting"), {}, None),
        (CanaryStatus(phase="Succeeded"), {}, None),
    ],
)
def test_ticks_left(status: CanaryStatus, analysis: dict, ticks: int | None) -> None:
    subject = canary(status, **analysis)
    assert ticks_left(subject) == ticks
    assert time_left(subject) == (None if ticks is None else ticks * 3.0)


def test_one_line_forms_and_endings() -> None:
    snap = snapshot(PROGRESSING)
    assert change_line(snap) == ("12:05:00 podinfo Progressing weight 40/60 step 2/3 failed 1/2: "
                                 "request-duration 620ms is above max 500ms; failed checks 1/2")
    succeeded = snapshot(CanaryStatus(phase="Succeeded", last_reason="promotion finished"))
    assert ending(0, succeeded) == "podinfo promoted (Succeeded): promotion finished"
    assert ending(1, snapshot(CanaryStatus(phase="Failed"))) == "podinfo rolled back (Failed)"
    gated = snapshot(CanaryStatus(phase="WaitingPromotion", waiting_for="gate:confirm-promotion"))
    assert ending(2, gated) == "podinfo is waiting for approval (gate:confirm-promotion)"
    assert ending(3, snap, 90).startswith("timed out after 1m30s; podinfo is Progressing: ")


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0, "0s"), (0.25, "250ms"), (59.6, "1m"), (80, "1m20s"), (3600, "1h"), (7500, "2h5m")],
)
def test_duration(seconds: float, text: str) -> None:
    assert duration(seconds) == text


def test_bar() -> None:
    assert bar(1, 4, width=8) == "██░░░░░░"
    assert bar(0, 0, width=4) == "░░░░"


def test_the_watch_card_says_it_is_live_and_how_it_ends() -> None:
    lines = to_text(watch_card(snapshot(PROGRESSING)), width=140).splitlines()
    assert lines[0] == "Name:            podinfo"
    assert lines[-1].startswith("updated 12:05:00 · exits when the rollout ends (0 promoted, 1 rolled back")


def test_detail_shows_the_mesh_traffic_per_backend_when_the_proxy_reports_it() -> None:
    def item(backend: str, weight: int, ok: int, failed: int, p99: str) -> dict:
        return {
            "backend": {"apex": "podinfo", "name": backend, "weight": weight},
            "window": "60s",
            "metrics": [
                {"name": "success_count", "value": str(ok)},
                {"name": "failure_count", "value": str(failed)},
                {"name": "p50_response_latency", "value": "2"},
                {"name": "p90_response_latency", "value": "4"},
                {"name": "p99_response_latency", "value": p99},
            ],
        }

    traffic = {"items": [item("podinfo-primary", 80, 400, 0, "9"), item("podinfo-canary", 20, 90, 10, "31")]}
    snap = Snapshot(canary=canary(CanaryStatus(phase="Progressing", canary_weight=20)), traffic=traffic)
    text = to_text(detail(snap))
    assert "Traffic (mesh, last 60s)" in text
    canary_row = next(line for line in text.splitlines() if line.startswith("podinfo-canary"))
    assert "20%" in canary_row and "90%" in canary_row and "31 ms" in canary_row
    assert "Traffic" not in to_text(detail(Snapshot(canary=snap.canary)))
