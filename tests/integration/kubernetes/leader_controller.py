"""One controller replica behind leader election, as its own process, for the HA test.

This is the wiring proposed for `sluice controller --leader-elect`: the elector campaigns first; on winning it
starts the controller (informers, scheduler) on another thread, because `KubernetesController.start` waits for
the informers to sync and the elector's thread must keep renewing; `/readyz` is leadership. Each event is a
JSON line on stdout so the test can follow from outside; the leader is killed with SIGKILL, like a node loss.

    python -m tests.integration.kubernetes.leader_controller KUBECONFIG NAMESPACE IDENTITY LEASE_SECONDS
"""

from __future__ import annotations

import json
import logging
import signal
import sys
import threading
import time
from typing import Any

from kubernetes import config

from controller.runtime.kubernetes import KubernetesController
from controller.runtime.leader import LeaderElector, LeaseTiming
from controller.server import ControllerServer


def emit(event: str, **fields: Any) -> None:
    print(json.dumps({"event": event, "t": time.time(), **fields}), flush=True)


def main(argv: list[str]) -> int:
    kubeconfig, namespace, identity, lease_seconds = argv
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    api = config.new_client_from_config(config_file=kubeconfig)
    kube = KubernetesController(api, namespace=namespace, sync_seconds=0.3)
    stop = threading.Event()

    def started_leading() -> None:
        emit("started", identity=identity)
        threading.Thread(target=kube.start, name="sluice-controller-start", daemon=True).start()

    def stopped_leading() -> None:
        emit("stopped", identity=identity)
        stop.set()  # a controller that lost its lease exits; Kubernetes restarts it as a fresh candidate

    elector = LeaderElector(
        api,
        namespace,
        identity=identity,
        timing=LeaseTiming.scaled(int(lease_seconds)),
        on_started_leading=started_leading,
        on_stopped_leading=stopped_leading,
    )
    server = ControllerServer(kube.metrics.registry, ready=lambda: elector.is_leader() and kube.ready())
    server.start()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    elector.start()
    emit("campaigning", identity=identity, port=server.port)
    stop.wait()
    elector.stop()
    kube.stop()
    server.stop()
    emit("exited", identity=identity)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
