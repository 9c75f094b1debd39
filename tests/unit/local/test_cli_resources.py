"""`sluice apply/get/delete/events` against a real SQLite state folder."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import yaml
from click.testing import CliRunner, Result

from controller.cli.main import cli
from controller.platforms.local.store import LocalStore
from controller.ports.store import Event

REPO = Path(__file__).resolve().parents[3]
EXAMPLES = REPO / "examples" / "local"


def sluice(state: Path, *args: str) -> Result:
    return CliRunner().invoke(cli, [*args, "--state", str(state)], catch_exceptions=False)


def db_digest(state: Path) -> str:
    return hashlib.sha256(json.dumps([o.wire() for o in LocalStore.open(state).list()]).encode()).hexdigest()


def test_apply_then_get_in_every_format(tmp_path: Path) -> None:
    state = tmp_path / "state"
    applied = sluice(state, "apply", "-f", str(EXAMPLES))
    assert applied.exit_code == 0, applied.output
    assert applied.output.splitlines() == ["canary/podinfo created", "workload/podinfo created"]
    assert sluice(state, "apply", "-f", str(EXAMPLES)).output.splitlines() == [
        "canary/podinfo unchanged",
        "workload/podinfo unchanged",
    ]

    listing = sluice(state, "get").output.splitlines()
    assert listing[0].split() == ["KIND", "NAMESPACE", "NAME", "STATUS", "AGE"]
    assert [line.split()[:3] for line in listing[1:]] == [
        ["Canary", "default", "podinfo"],
        ["Workload", "default", "podinfo"],
    ]
    one = yaml.safe_load(sluice(state, "get", "workload", "podinfo", "-o", "yaml").output)
    assert one["kind"] == "Workload" and one["spec"]["replicas"] == 2
    assert one["metadata"]["resourceVersion"] == "1"
    as_list = json.loads(sluice(state, "get", "canaries", "-o", "json").output)
    assert as_list["kind"] == "List" and [i["metadata"]["name"] for i in as_list["items"]] == ["podinfo"]
    assert "No resources found." in sluice(state, "get", "alertprovider").output


def test_state_comes_from_the_environment_too(tmp_path: Path) -> None:
    runner = CliRunner(env={"SLUICE_STATE": str(tmp_path / "env-state")})
    result = runner.invoke(cli, ["apply", "-f", str(EXAMPLES / "workload.yaml")])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "env-state" / "sluice.db").exists()


def test_a_malformed_manifest_is_refused_and_nothing_is_written(tmp_path: Path) -> None:
    state = tmp_path / "state"
    sluice(state, "apply", "-f", str(EXAMPLES / "workload.yaml"))
    before = db_digest(state)
    bad = tmp_path / "bad.yaml"
    text = (EXAMPLES / "workload.yaml").read_text()
    bad.write_text(text.replace('"v1"', '"v2"') + "---\n" + text.replace("replicas: 2", "replicas: -1"))
    result = sluice(state, "apply", "-f", str(bad))
    assert result.exit_code == 1
    assert f"{bad}#2: spec.replicas:" in result.output
    assert "nothing applied" in result.output
    assert db_digest(state) == before


def test_duplicates_in_one_apply_are_refused(tmp_path: Path) -> None:
    state = tmp_path / "state"
    twice = tmp_path / "twice.yaml"
    text = (EXAMPLES / "workload.yaml").read_text()
    twice.write_text(text + "---\n" + text)
    result = sluice(state, "apply", "-f", str(twice))
    assert result.exit_code == 1 and f"{twice}#2: metadata.name: same as {twice}#1" in result.output
    assert not (state / "sluice.db").exists()


def test_read_commands_need_a_state_folder(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["get", "--state", str(tmp_path / "none")])
    assert result.exit_code == 1 and "no sluice state" in result.output


def test_unknown_kind_and_name(tmp_path: Path) -> None:
    state = tmp_path / "state"
    sluice(state, "apply", "-f", str(EXAMPLES))
    unknown = CliRunner().invoke(cli, ["get", "deployment", "--state", str(state)])
    assert unknown.exit_code == 2 and "unknown kind 'deployment'" in unknown.output
    missing = CliRunner().invoke(cli, ["get", "canary", "nope", "--state", str(state)])
    assert missing.exit_code == 1 and "Canary default/nope not found" in missing.output


def test_delete_marks_canaries_and_removes_the_rest(tmp_path: Path) -> None:
    state = tmp_path / "state"
    sluice(state, "apply", "-f", str(EXAMPLES))
    assert "marked for deletion" in sluice(state, "delete", "canary", "podinfo").output
    assert "Terminating" in sluice(state, "get", "canary").output
    assert sluice(state, "delete", "workload", "podinfo").output.strip() == "workload/podinfo deleted"
    again = CliRunner().invoke(cli, ["delete", "workload", "podinfo", "--state", str(state)])
    assert again.exit_code == 1 and "not found" in again.output


def test_events_show_a_timeline(tmp_path: Path) -> None:
    state = tmp_path / "state"
    sluice(state, "apply", "-f", str(EXAMPLES))
    store = LocalStore.open(state)
    store.record_event(Event("default", "podinfo", "Normal", "Synced", "Initialization done!"))
    store.record_event(Event("default", "podinfo", "Warning", "Synced", "Rolling back podinfo.default"))
    lines = sluice(state, "events", "podinfo").output.splitlines()
    assert lines[0].split() == ["TIME", "AGE", "TYPE", "REASON", "MESSAGE"]
    assert lines[1].endswith("Initialization done!") and "Warning" in lines[2]
    assert lines[1].split()[0].endswith("Z")
    assert "No events" in sluice(state, "events", "other").output


def test_what_get_prints_applies_back_unchanged(tmp_path: Path) -> None:
    state = tmp_path / "state"
    sluice(state, "apply", "-f", str(EXAMPLES))
    exported = tmp_path / "exported.yaml"
    exported.write_text(sluice(state, "get", "workload", "podinfo", "-o", "yaml").output)
    assert sluice(state, "apply", "-f", str(exported)).output.strip() == "workload/podinfo unchanged"
