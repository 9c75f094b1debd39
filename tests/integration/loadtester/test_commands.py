"""`POST /` commands: `cmd` in the background and deduplicated, `bash` blocking with its output."""

from __future__ import annotations

import shlex
import sys
import time
from pathlib import Path

import httpx

from tests.harness.poll import wait_until
from tests.integration.loadtester.conftest import StartLoadtester, jobs


def task(base: str, namespace: str = "test", **metadata: str) -> httpx.Response:
    return httpx.post(
        base, json={"name": "podinfo", "namespace": namespace, "metadata": metadata}, timeout=10
    )


def test_cmd_answers_202_at_once_and_runs_once_while_running(loadtester: str, tmp_path: Path) -> None:
    marker, release, script = tmp_path / "ran", tmp_path / "release", tmp_path / "job.py"
    script.write_text(  # appends an x to `marker`, then runs until `release` exists
        "import pathlib, sys, time\n"
        "marker, release = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])\n"
        "marker.write_text((marker.read_text() if marker.exists() else '') + 'x')\n"
        "while not release.exists():\n"
        "    time.sleep(0.02)\n"
    )
    command = shlex.join([sys.executable, str(script), str(marker), str(release)])
    began = time.monotonic()
    first = task(loadtester, cmd=command)
    assert (first.status_code, first.text) == (202, "command started")
    assert time.monotonic() - began < 1.0
    wait_until(marker.exists, what="the command to run")
    again = task(loadtester, cmd=command)
    assert (again.status_code, again.text) == (202, "command already running")
    assert [job["state"] for job in jobs(loadtester)] == ["running"]
    release.write_text("go")
    wait_until(lambda: jobs(loadtester)[0]["state"] == "succeeded", what="the command to end")
    assert task(loadtester, cmd=command).text == "command started", "a finished command can run again"
    wait_until(lambda: marker.read_text() == "xx", what="the second run")


def test_cmd_that_fails_is_reported_in_jobs(loadtester: str) -> None:
    assert task(loadtester, cmd="false").status_code == 202
    wait_until(lambda: jobs(loadtester) and jobs(loadtester)[0]["state"] == "failed", what="the job to fail")
    assert jobs(loadtester)[0]["returncode"] == 1


def test_bash_blocks_and_returns_output_when_asked(loadtester: str) -> None:
    quiet = task(loadtester, type="bash", cmd="echo hello $((40 + 2))")
    assert (quiet.status_code, quiet.text) == (200, "")
    loud = task(loadtester, type="bash", cmd="echo hello $((40 + 2))", returnCmdOutput="true")
    assert (loud.status_code, loud.text) == (200, "hello 42\n")
    failed = task(loadtester, type="bash", cmd="echo broken >&2; exit 3")
    assert failed.status_code == 500
    assert "broken" in failed.text and "(3)" in failed.text


def test_bad_payloads_are_refused(loadtester: str) -> None:
    assert task(loadtester).status_code == 400  # no cmd
    assert task(loadtester, type="helm", cmd="helm test").status_code == 400
    assert httpx.post(loadtester, content=b"{nope", timeout=5).status_code == 400
    assert httpx.post(loadtester, json={"metadata": {"cmd": "true"}}, timeout=5).status_code == 400


def test_namespace_regexp_refuses_other_namespaces(start_loadtester: StartLoadtester) -> None:
    base = start_loadtester("--namespace-regexp", "team-.*")
    assert task(base, namespace="kube-system", type="bash", cmd="true").status_code == 403
    assert task(base, namespace="team-web", type="bash", cmd="true").status_code == 200
