"""`sluice status`, `wait` and the manual commands through click, on a real state folder (no controller)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner, Result

from controller.api.status import CanaryStatus
from controller.api.workload import Workload
from controller.cli.backend import LocalBackend
from controller.cli.main import cli
from controller.platforms.local.revision import spec_revision
from controller.platforms.local.store import LocalStore
from controller.ports.store import Event

EXAMPLES = Path(__file__).resolve().parents[3] / "examples" / "local"


def sluice(state: Path, *args: str) -> Result:
    return CliRunner().invoke(cli, [*args, "--state", str(state)], catch_exceptions=False)


@pytest.fixture
def state(tmp_path: Path) -> Path:
    folder = tmp_path / "state"
    assert sluice(folder, "apply", "-f", str(EXAMPLES)).exit_code == 0
    return folder


def set_status(state: Path, **fields: object) -> str:
    """Write a status as the controller would; returns the target's revision."""
    store = LocalStore.open(state)
    workload = store.get("Workload", "default", "podinfo")
    assert isinstance(workload, Workload)
    revision = spec_revision(workload.spec)
    written = {"lastAppliedSpec": revision, "lastPromotedSpec": "0" * 64, **fields}
    store.write_status(store.get_canary("default", "podinfo"), CanaryStatus.model_validate(written))
    return revision


def test_status_lists_canaries_and_says_when_there_are_none(state: Path) -> None:
    set_status(state, phase="Progressing", canaryWeight=20, step=1, totalSteps=3)
    listing = sluice(state, "status")
    assert listing.exit_code == 0, listing.output
    row = listing.output.splitlines()[1].split()
    assert row[:6] == ["podinfo", "◌", "Progressing", "20/80", "1/3", "0/2"]
    assert sluice(state, "status", "-n", "other").output == "No canaries found in namespace other.\n"
    everywhere = sluice(state, "status", "-A", "-o", "wide").output.splitlines()
    assert everywhere[0].split()[:2] == ["NAMESPACE", "NAME"] and "LAST REASON" in everywhere[0]
    items = json.loads(sluice(state, "status", "-o", "json").output)["items"]
    assert [(i["name"], i["phase"], i["canaryWeight"]) for i in items] == [("podinfo", "Progressing", 20)]


def test_status_name_shows_the_detail_or_its_structured_form(state: Path) -> None:
    revision = set_status(state, phase="Progressing", canaryWeight=20, step=1, totalSteps=3,
                          lastReason="advance canary weight 0 -> 20 (step 1/3)")
    event = Event("default", "podinfo", "Normal", "Synced", "Advance podinfo.default")
    LocalStore.open(state).record_event(event)
    text = sluice(state, "status", "podinfo").output
    assert "Message:         advance canary weight 0 -> 20 (step 1/3)" in text
    assert f"canary {revision[:10]}" in text and "Advance podinfo.default" in text
    data = yaml.safe_load(sluice(state, "status", "podinfo", "-o", "yaml").output)
    assert data["revisions"]["canary"] == revision == data["revisions"]["target"]
    assert data["liveWeights"] is None and data["events"][0]["message"] == "Advance podinfo.default"
    missing = sluice(state, "status", "nope")
    assert missing.exit_code == 1 and "canary default/nope not found" in missing.output


def test_watch_needs_a_name_and_no_state_is_an_error(state: Path, tmp_path: Path) -> None:
    assert sluice(state, "status", "--watch").exit_code == 2
    empty = sluice(tmp_path / "none", "status")
    assert empty.exit_code == 1 and "no sluice state" in empty.output


def test_watch_and_wait_exit_at_once_on_a_finished_rollout(state: Path) -> None:
    revision = set_status(state, phase="Succeeded", lastReason="promotion finished")
    watched = sluice(state, "status", "podinfo", "--watch", "--timeout", "5s")
    assert watched.exit_code == 0, watched.output
    assert watched.output.splitlines()[-1] == "podinfo promoted (Succeeded): promotion finished"
    waited = sluice(state, "wait", "podinfo", "--for", "failed", "--timeout", "5s")
    assert waited.exit_code == 1 and len(waited.output.splitlines()) == 2
    set_status(state, phase="Failed", lastPromotedSpec=revision)
    assert sluice(state, "wait", "podinfo", "--for", "failed").exit_code == 0


def test_watch_as_json_lines(state: Path) -> None:
    set_status(state, phase="WaitingPromotion", canaryWeight=60, waitingFor="gate:confirm-promotion",
               waitingSince="2026-11-29T12:00:00Z")
    watched = sluice(state, "status", "podinfo", "--watch", "-o", "json")
    assert watched.exit_code == 2
    first, last = watched.output.splitlines()
    assert json.loads(first)["status"]["waitingFor"] == "gate:confirm-promotion"
    assert last == "podinfo is waiting for approval (gate:confirm-promotion)"


def test_a_timeout_exits_3(state: Path) -> None:
    set_status(state, phase="Progressing", canaryWeight=20)
    waited = sluice(state, "wait", "podinfo", "--for", "promoted", "--timeout", "300ms")
    assert waited.exit_code == 3
    assert waited.output.splitlines()[-1].startswith("timed out after 300ms; podinfo is Progressing")


@pytest.mark.parametrize("verb", ["promote", "abort", "pause", "resume", "retry"])
def test_commands_are_queued_for_the_controller(state: Path, verb: str) -> None:
    set_status(state, phase="Progressing")
    result = sluice(state, verb, "podinfo")
    assert result.exit_code == 0, result.output
    assert result.output.startswith(f"{verb} queued for canary default/podinfo (now Progressing); "
                                    "the controller acts on it at its next tick (every 3s).")
    assert LocalStore.open(state).take_commands("default", "podinfo") == [verb]


def test_a_command_for_a_missing_canary_is_refused(state: Path) -> None:
    result = sluice(state, "promote", "nope")
    assert result.exit_code == 1 and "canary default/nope not found" in result.output
    assert LocalStore.open(state).take_commands("default", "nope") == []


def test_live_weights_come_from_the_recorded_proxy_only_when_it_answers(state: Path) -> None:
    backend = LocalBackend(LocalStore.open(state))
    canary = backend.get_canary("default", "podinfo")
    assert backend.live_routes(canary) is None
    (state / "proxy.json").write_text(json.dumps({"pid": 1, "admin_port": 9}))
    assert backend.live_routes(canary) is None
    (state / "proxy.json").write_text("not json")
    assert backend.live_routes(canary) is None
