"""Manual use of the test control plane: `python -m tests.cluster up|down|status|kubeconfig`.

Why: debugging a controller against the same cluster the tests use is much easier with kubectl at hand.
`up` starts etcd, kube-apiserver, kcm, scheduler and kwok in the background (they outlive this command),
records their PIDs in the state dir (default .sluice/cluster, or $SLUICE_CLUSTER_STATE) and prints the
kubeconfig path; `down` stops exactly those PIDs.
"""

from __future__ import annotations

import argparse
import sys
import time

from tests.cluster import controlplane


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.cluster", description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["up", "down", "status", "kubeconfig", "build"])
    parser.add_argument("--nodes", type=int, default=2, help="fake kwok nodes to create (up)")
    args = parser.parse_args(argv)
    state = controlplane.state_dir()

    if args.command == "build":
        print(controlplane.ensure_binaries())
        return 0
    if args.command == "up":
        started = time.monotonic()
        if any(controlplane.pid_runs(pid, exe) for pid, exe in controlplane.recorded_pids(state)):
            print(f"cluster: already running from {state}", file=sys.stderr)
            print(state / "kubeconfig")
            return 0
        try:
            plane = controlplane.up(state, nodes=args.nodes)
        except RuntimeError as exc:
            print(f"cluster: {exc}", file=sys.stderr)
            return 1
        print(f"cluster: up in {time.monotonic() - started:.1f}s, logs in {plane.log_dir}", file=sys.stderr)
        print(f"cluster: export KUBECONFIG={plane.kubeconfig}", file=sys.stderr)
        print(plane.kubeconfig)
        return 0
    if args.command == "down":
        pids = controlplane.down(state)
        print(f"cluster: stopped {len(pids)} processes {pids}" if pids else "cluster: nothing running")
        return 0
    if args.command == "status":
        recorded = controlplane.recorded_pids(state)
        if not recorded:
            print("cluster: not running")
            return 1
        alive = [(pid, exe) for pid, exe in recorded if controlplane.pid_runs(pid, exe)]
        for pid, exe in recorded:
            print(f"{pid:>8} {'running' if (pid, exe) in alive else 'gone   '} {exe}")
        return 0 if len(alive) == len(recorded) else 1
    print(state / "kubeconfig")
    return 0


if __name__ == "__main__":
    sys.exit(main())
