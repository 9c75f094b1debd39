"""The loadtester's HTTP API, path for path as Flagger's loadtester (reference/flagger.md §1.10).

    GET  /healthz                 200
    GET  /metrics                 Prometheus text
    GET  /jobs                    background jobs (cmd and load) with their state and live figures
    ANY  /gate/approve  /gate/halt                       200 / 403, always
    POST /gate/check|open|close   /rollback/check|open|close   body: the webhook payload {name, namespace}
    POST /                        metadata.type: cmd (default, background, 202), bash (blocking, 200/500),
                                  load (built-in generator, background, 202)

A standard-library threading server is enough: hooks arrive a few per tick, and the load itself is
generated on the jobs' own event loops, not by this server.
"""

from __future__ import annotations

import json
import logging
import re
import shutil
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from controller.loadtester.commands import bash_argv, cmd_argv, execute
from controller.loadtester.gates import Gates, gate_key
from controller.loadtester.hey import hey_load, is_hey
from controller.loadtester.load import LoadSpec, LoadSpecError, run_load
from controller.loadtester.tasks import Job, Outcome, TaskRunner

log = logging.getLogger("sluice.loadtester")
MAX_BODY = 1024 * 1024


@dataclass(frozen=True)
class Reply:
    status: int
    text: str = ""
    content_type: str = "text/plain; charset=utf-8"


@dataclass(frozen=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 9090
    timeout: float = 3600.0  # longest a command or a load may run
    namespace_regexp: str = ""  # when set, payloads from other namespaces are refused (403)


class Loadtester:
    """The state behind the API: gates, jobs, metrics. HTTP-free, so the handler stays a thin shell."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.gates = Gates()
        self.rollbacks = Gates()
        self.registry = CollectorRegistry()
        self.jobs_total = Counter(
            "sluice_loadtester_jobs",
            "Background jobs ended, by type and outcome",
            ["type", "outcome"],
            registry=self.registry,
        )
        self.running = Gauge(
            "sluice_loadtester_jobs_running", "Background jobs running", registry=self.registry
        )
        self.running.set_function(lambda: sum(job.state == "running" for job in self.runner.jobs()))
        self.runner = TaskRunner(settings.timeout, on_finish=self._finished)
        self._namespaces = re.compile(settings.namespace_regexp) if settings.namespace_regexp else None

    def _finished(self, job: Job) -> None:
        self.jobs_total.labels(job.kind, job.state).inc()
        log.info("job %s %s for %s: %s", job.kind, job.state, job.canary, json.dumps(job.detail)[:2000])

    def gate(self, gates: Gates, action: str, payload: dict[str, Any]) -> Reply:
        key = gate_key(str(payload.get("name", "")), str(payload.get("namespace", "")))
        if action == "open":
            gates.open(key)
            return Reply(202, f"{key} opened")
        if action == "close":
            gates.close(key)
            return Reply(202, f"{key} closed")
        return Reply(200, f"{key} open") if gates.is_open(key) else Reply(403, f"{key} closed")

    def task(self, payload: dict[str, Any]) -> Reply:
        name, namespace = str(payload.get("name", "")), str(payload.get("namespace", ""))
        metadata = payload.get("metadata") or {}
        if not name or not namespace or not isinstance(metadata, dict):
            return Reply(400, "payload must have name, namespace and a metadata map")
        if self._namespaces is not None and not self._namespaces.fullmatch(namespace):
            return Reply(403, f"namespace {namespace!r} is not allowed here")
        metadata = {str(key): str(value) for key, value in metadata.items()}
        canary = gate_key(name, namespace)
        kind = metadata.get("type", "cmd")
        if kind == "load":
            return self._load(canary, metadata)
        command = metadata.get("cmd", "").strip()
        if not command:
            return Reply(400, "metadata.cmd is required")
        if kind == "bash":
            return self._bash(canary, command, metadata)
        if kind == "cmd" and is_hey(command) and shutil.which("hey") is None:
            return self._hey(canary, command)
        if kind == "cmd":
            return self._cmd(canary, command, metadata)
        return Reply(400, f"metadata.type {kind!r} is not supported (cmd, bash, load)")

    def _cmd(self, canary: str, command: str, metadata: dict[str, str]) -> Reply:
        log_output = metadata.get("logCmdOutput") == "true"

        def body(stop: threading.Event, progress: dict[str, Any]) -> Outcome:
            result = execute(cmd_argv(command), stop, self.settings.timeout)
            if log_output:
                log.info("%s $ %s\n%s", canary, command, result.output)
            return Outcome(result.ok, {"returncode": result.returncode, "output": result.output[-4000:]})

        started = self.runner.submit(canary, "cmd", command, body)
        return Reply(202, "command started" if started else "command already running")

    def _bash(self, canary: str, command: str, metadata: dict[str, str]) -> Reply:
        result = execute(bash_argv(command), threading.Event(), self.settings.timeout)
        if metadata.get("logCmdOutput") == "true":
            log.info("%s $ %s\n%s", canary, command, result.output)
        if not result.ok:
            return Reply(500, f"command failed ({result.returncode}): {result.output}".strip())
        return Reply(200, result.output if metadata.get("returnCmdOutput") == "true" else "")

    def _load(self, canary: str, metadata: dict[str, str]) -> Reply:
        try:
            return self._start_load(canary, LoadSpec.from_metadata(metadata))
        except LoadSpecError as exc:
            return Reply(400, str(exc))

    def _hey(self, canary: str, command: str) -> Reply:
        """Flagger's usual `hey` load, run by the built-in generator since hey is not installed."""
        try:
            reply = self._start_load(canary, hey_load(command))
        except LoadSpecError as exc:
            return Reply(400, f"hey is not installed and {exc}")
        return Reply(reply.status, f"{reply.text} (hey is not installed: built-in load generator)")

    def _start_load(self, canary: str, spec: LoadSpec) -> Reply:
        def body(stop: threading.Event, progress: dict[str, Any]) -> Outcome:
            stats = run_load(spec, stop, progress)
            return Outcome(not stop.is_set(), {"spec": spec.describe(), **stats.as_dict()})

        started = self.runner.submit(canary, "load", spec.describe(), body)
        return Reply(202, "load started" if started else "load already running")

    def jobs(self) -> Reply:
        listing = [job.as_dict() for job in self.runner.jobs()]
        return Reply(200, json.dumps(listing), "application/json")

    def metrics(self) -> Reply:
        return Reply(200, generate_latest(self.registry).decode(), CONTENT_TYPE_LATEST)

    def route(self, method: str, path: str, payload: dict[str, Any]) -> Reply:
        if path == "/healthz":
            return Reply(200, "OK")
        if path == "/metrics":
            return self.metrics()
        if path == "/jobs":
            return self.jobs()
        if path == "/gate/approve":
            return Reply(200, "Approved")
        if path == "/gate/halt":
            return Reply(403, "Forbidden")
        group, _, action = path.strip("/").partition("/")
        if group in ("gate", "rollback") and action in ("check", "open", "close"):
            return self.gate(self.gates if group == "gate" else self.rollbacks, action, payload)
        if path == "/" and method == "POST":
            return self.task(payload)
        return Reply(404, f"no route for {method} {path}")


def _handler(app: Loadtester) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "sluice-loadtester"
        # The head and the body are two writes: with Nagle on, each keep-alive answer waits ~40 ms for
        # the client's delayed ACK.
        disable_nagle_algorithm = True

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_BODY:
                return self._send(Reply(413, "payload too large"))
            raw = self.rfile.read(length) if length else b""
            try:
                payload = json.loads(raw) if raw.strip() else {}
            except json.JSONDecodeError as exc:
                return self._send(Reply(400, f"payload is not JSON: {exc}"))
            if not isinstance(payload, dict):
                return self._send(Reply(400, "payload must be a JSON object"))
            self._send(app.route(self.command, self.path.split("?", 1)[0], payload))

        do_GET = do_POST = do_PUT = _serve

        def _send(self, reply: Reply) -> None:
            data = reply.text.encode()
            self.send_response(reply.status)
            self.send_header("Content-Type", reply.content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            log.debug("%s %s", self.address_string(), format % args)

    return Handler


class LoadtesterServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, app: Loadtester) -> None:
        self.app = app
        super().__init__((app.settings.host, app.settings.port), _handler(app))

    def stop(self) -> None:
        """Stop serving, then stop every running job."""
        self.shutdown()
        self.server_close()
        self.app.runner.stop_all()
