"""One leader-election candidate as its own process, for test_leader_election.py.

Why a process and not a thread: the test kills the leader with SIGKILL, exactly as a node failure or OOM kill
would, so nothing in it can release the Lease or say goodbye. Each event is one JSON line on stdout (flushed),
with the wall-clock time, so the test can measure the takeover from outside.

    python -m tests.integration.kubernetes.leader_candidate KUBECONFIG NAMESPACE LEASE IDENTITY DURATION
"""

from __future__ import annotations

import json
import signal
import sys
import threading
import time
from typing import Any

from kubernetes import config

from controller.runtime.leader import LeaderElector, LeaseTiming


def emit(event: str, **fields: Any) -> None:
    print(json.dumps({"event": event, "t": time.time(), **fields}), flush=True)


def main(argv: list[str]) -> int:
    kubeconfig, namespace, lease, identity, duration = argv
    api = config.new_client_from_config(config_file=kubeconfig)
    done = threading.Event()
    elector = LeaderElector(
        api,
        namespace,
        name=lease,
        identity=identity,
        timing=LeaseTiming.scaled(int(duration)),
        on_started_leading=lambda: emit("started", identity=identity),
        on_stopped_leading=lambda: (emit("stopped", identity=identity), done.set()),
    )
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    elector.start()
    emit("campaigning", identity=identity)
    while not done.wait(0.2):
        pass
    elector.stop()
    emit("exited", identity=identity, leader=elector.is_leader())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
