"""Chat notifications of local rollouts, posted to a real HTTP receiver through `webhook` AlertProviders.

Three providers, one per severity filter (info, warn, error), each with its own path on the receiver. A
rollout that promotes and then one that rolls back must produce exactly the expected messages, in order,
at each filter: info gets everything, warn and error only the rollback. Nothing is announced twice.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.e2e.local.clients import Clients
from tests.e2e.local.rig import Rig, canary, success_rate, workload
from tests.harness.poll import wait_until

pytestmark = pytest.mark.slow

SEVERITIES = ("info", "warn", "error")


class Receiver:
    """A chat service stand-in: keeps every JSON body posted to it, by path, and answers 200."""

    def __init__(self) -> None:
        self.posts: dict[str, list[dict]] = {}
        lock = threading.Lock()
        posts = self.posts

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["content-length"])))
                with lock:
                    posts.setdefault(self.path, []).append(body)
                self.send_response(200)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *_: object) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def messages(self, path: str) -> list[str]:
        return [post["message"] for post in list(self.posts.get(path, []))]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    made = Receiver()
    made.thread.start()
    try:
        yield made
    finally:
        made.server.shutdown()
        made.server.server_close()


def provider(severity: str, url: str) -> dict:
    return {
        "apiVersion": "sluice.dev/v1beta1",
        "kind": "AlertProvider",
        "metadata": {"name": f"chat-{severity}"},
        "spec": {"type": "webhook", "address": f"{url}/{severity}"},
    }


def test_promotion_and_rollback_message_sequences_per_severity(rig: Rig, receiver: Receiver) -> None:
    alerts = [{"name": s, "severity": s, "providerRef": {"name": f"chat-{s}"}} for s in SEVERITIES]
    analysis = {"stepWeight": 50, "maxWeight": 50, "metrics": [success_rate()], "alerts": alerts}
    rig.apply(*(provider(s, receiver.url) for s in SEVERITIES), workload("v1"), canary(rig.port, analysis))
    rig.start_controller()
    rig.wait_phase("Initialized", timeout=30)
    name = "podinfo.default"
    init = f"Initialization done! {name}"
    new = f"New revision detected, progressing canary analysis of {name}"
    promoted = f"Canary analysis completed successfully, promotion finished for {name}"
    with Clients(rig.port, workers=3):
        rig.apply(workload("v2"))
        assert rig.wait_phase("Succeeded", "Failed", timeout=60).phase == "Succeeded"
        wait_until(lambda: promoted in receiver.messages("/info"), timeout=15, what="the promotion message")
        after_promotion = {s: receiver.messages(f"/{s}") for s in SEVERITIES}

        rig.apply(workload("v3", "--error-rate", "0.25"))
        status = rig.wait_for(lambda s: s.phase == "Failed", timeout=60, what="the rollback")
        wait_until(lambda: receiver.messages("/error"), timeout=15, what="the rollback message")
        wait_until(lambda: len(receiver.messages("/info")) == 5, timeout=15, what="5 info messages")

    assert after_promotion == {"info": [init, new, promoted], "warn": [], "error": []}
    failed = receiver.messages("/error")
    assert len(failed) == 1 and failed[0].startswith(f"Canary analysis failed for {name}: "), failed
    assert "request-success-rate" in failed[0]
    assert receiver.messages("/warn") == failed
    assert receiver.messages("/info") == [init, new, promoted, new, failed[0]]
    posts = receiver.posts["/error"]
    assert (posts[0]["severity"], posts[0]["phase"], posts[0]["canary"]) == ("error", "Failed", "podinfo")
    assert status.phase == "Failed"
