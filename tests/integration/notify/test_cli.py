"""`sluice notify test -f PROVIDER.yaml` sends one sample message and prints what the service answered."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from controller.cli.notify import notify
from tests.integration.notify.receiver import Receiver, Script


def manifest(tmp_path: Path, spec: str, name: str = "chat") -> Path:
    path = tmp_path / "provider.yaml"
    path.write_text(
        "apiVersion: sluice.dev/v1beta1\nkind: AlertProvider\n"
        f"metadata:\n  name: {name}\n  namespace: test\nspec:\n{spec}"
    )
    return path


def run(*args: str, env: dict[str, str] | None = None):
    return CliRunner().invoke(notify, ["test", *args], env=env or {}, catch_exceptions=False)


def test_sends_a_sample_and_prints_the_http_status(tmp_path: Path) -> None:
    with Receiver() as receiver:
        path = manifest(tmp_path, f"  type: discord\n  address: {receiver.url}/api/webhooks/1/x\n")
        result = run("-f", str(path), "--severity", "error", "--cluster", "staging")
        (request,) = receiver.received()
    assert result.exit_code == 0, result.output
    assert result.output == "test/chat (discord): delivered, HTTP 200\n"
    embed = request.json()["embeds"][0]
    assert embed["title"] == "[staging] podinfo.test"
    assert embed["color"] == 0xA30200
    assert "failed checks threshold reached" in embed["description"]


def test_reads_the_address_from_a_local_secret_and_reports_a_refusal(tmp_path: Path) -> None:
    with Receiver(Script((403, {}, "invalid_token"))) as receiver:
        path = manifest(tmp_path, "  type: slack\n  secretRef:\n    name: slack-hook\n")
        env = {"SLUICE_SECRET_SLACK_HOOK_ADDRESS": f"{receiver.url}/services/T/B/X"}
        result = run("-f", str(path), env=env)
        assert [r.path for r in receiver.received()] == ["/services/T/B/X"]
    assert result.exit_code == 1
    assert result.output == "test/chat (slack): not delivered: HTTP 403: invalid_token\n"


def test_a_missing_secret_names_the_file_and_the_field(tmp_path: Path) -> None:
    path = manifest(tmp_path, "  type: msteams\n  secretRef:\n    name: teams\n")
    result = run("-f", str(path), "--secrets-dir", str(tmp_path))
    assert result.exit_code == 1
    assert result.output == (
        f"{path}: AlertProvider test/chat: spec.secretRef.name: "
        "secret 'teams' not found in namespace 'test'\n"
    )


def test_an_invalid_manifest_is_reported_with_its_field(tmp_path: Path) -> None:
    path = manifest(tmp_path, "  type: pager\n  address: http://127.0.0.1:9/\n")
    result = run("-f", str(path))
    assert result.exit_code == 1
    assert "spec.type" in result.output
    assert str(path) in result.output
