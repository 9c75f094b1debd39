"""A throwaway network namespace for tests that must serve real traffic on pod addresses.

The Kubernetes test cluster (tests/cluster) hands out pod IPs from 198.18.0.0/16 (RFC 2544, never routed),
but nothing serves on them. Mesh tests run the apps and proxies bound to those addresses inside a network
namespace of their own: only `lo` exists there, up, with the pod range as local addresses
(`ip route add local 198.18.0.0/16 dev lo`), and no other route, so a process inside can bind and reach
any pod address and nothing else; no packet can leave it, let alone the machine. `NetworkNamespace`
checks exactly that after creating it, and deletes it at the end.

Processes outside reach a process inside only through a Unix socket file (socket paths cross network
namespaces): the mesh control plane stays on the host with the apiserver and serves the proxies that way.

Run as a module, this file is also the HTTP client the tests run inside the namespace:

    ip netns exec NS python -m tests.harness.netns fetch http://198.18.0.5:9898/ --host podinfo -n 1000 \
        [--header x-canary:insider]     # prints {"counts": {"v1": 702, "v2": 298}, "statuses": {"200": 1000}}
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import secrets
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path
from urllib.parse import urlsplit

from tests.harness import processes

POD_CIDR = "198.18.0.0/16"  # tests/cluster/README.md, Network safety


def _ip(*args: str) -> str:
    done = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=10, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)}: {done.stderr.strip()}")
    return done.stdout


class NetworkNamespace:
    def __init__(self, prefix: str = "sluice-t", local_cidr: str = POD_CIDR) -> None:
        self.name = f"{prefix}-{secrets.token_hex(3)}"
        self.local_cidr = local_cidr
        self.created = False

    def create(self) -> NetworkNamespace:
        _ip("netns", "add", self.name)
        self.created = True
        _ip("-n", self.name, "link", "set", "lo", "up")
        _ip("-n", self.name, "route", "add", "local", self.local_cidr, "dev", "lo")
        self.check_isolated()
        return self

    def check_isolated(self) -> None:
        """Only `lo`, and no route but the local ones: nothing sent inside can reach another host."""
        links = [line.split(":")[1].strip() for line in _ip("-n", self.name, "-o", "link").splitlines()]
        assert links == ["lo"], f"namespace {self.name} has links {links}"
        routes = _ip("-n", self.name, "route", "show", "table", "all").splitlines()
        assert all(
            line.startswith(("local ", "broadcast ", "multicast ")) or " dev lo " in f" {line} "
            for line in routes
        ), routes
        assert not any(line.startswith("default") for line in routes), routes

    def delete(self) -> None:
        if self.created:
            with contextlib.suppress(RuntimeError):
                _ip("netns", "delete", self.name)
            self.created = False

    def argv(self, args: Sequence[str]) -> list[str]:
        return ["ip", "netns", "exec", self.name, *args]

    def start(self, args: Sequence[str], log_path: Path, **kwargs) -> subprocess.Popen:
        """A process inside the namespace (`ip netns exec` execs it: the PID is the process's own)."""
        return processes.start(self.argv(args), log_path, **kwargs)

    def run(self, args: Sequence[str], timeout: float = 60.0, cwd: Path | None = None) -> str:
        done = subprocess.run(
            self.argv(args), capture_output=True, text=True, timeout=timeout, cwd=cwd, check=False
        )
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(args)} failed ({done.returncode}): {done.stderr[-2000:]}")
        return done.stdout

    def fetch(
        self, url: str, host: str, count: int, headers: Sequence[str] = (), cwd: Path | None = None
    ) -> dict:
        """Send `count` GETs from inside; {"counts": {version: n}, "statuses": {status: n}}."""
        args = [sys.executable, "-m", "tests.harness.netns", "fetch", url, "--host", host, "-n", str(count)]
        for header in headers:
            args += ["--header", header]
        return json.loads(self.run(args, cwd=cwd))

    def get(self, url: str, cwd: Path | None = None) -> tuple[int, str]:
        """One GET from inside: (status, body); status 0 when nothing answered."""
        found = json.loads(self.run([sys.executable, "-m", "tests.harness.netns", "get", url], cwd=cwd))
        return found["status"], found["body"]


@contextlib.contextmanager
def network_namespace(prefix: str = "sluice-t") -> Iterator[NetworkNamespace]:
    namespace = NetworkNamespace(prefix)
    try:
        yield namespace.create()
    finally:
        namespace.delete()


# --- the client, run inside the namespace ------------------------------------------------------------


def _fetch(url: str, host: str, count: int, headers: list[str]) -> dict:
    parts = urlsplit(url)
    extra = dict(h.split(":", 1) for h in headers)
    versions: Counter[str] = Counter()
    statuses: Counter[str] = Counter()
    connection = http.client.HTTPConnection(parts.hostname, parts.port or 80, timeout=10)
    for _ in range(count):
        try:
            connection.request("GET", parts.path or "/", headers={"Host": host, **extra})
            response = connection.getresponse()
            response.read()
        except (OSError, http.client.HTTPException) as exc:
            statuses[type(exc).__name__] += 1
            connection.close()
            connection = http.client.HTTPConnection(parts.hostname, parts.port or 80, timeout=10)
            continue
        statuses[str(response.status)] += 1
        versions[response.getheader("x-app-version") or "-"] += 1
        if response.getheader("connection", "").lower() == "close":
            connection.close()
    return {"counts": dict(versions), "statuses": dict(statuses)}


def _get(url: str) -> tuple[int, str]:
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port or 80, timeout=10)
    try:
        connection.request("GET", parts.path + (f"?{parts.query}" if parts.query else ""))
        response = connection.getresponse()
        return response.status, response.read().decode()
    finally:
        connection.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.harness.netns")
    commands = parser.add_subparsers(dest="command", required=True)
    fetch = commands.add_parser("fetch", help="GET a URL n times; print counts by X-App-Version and status")
    fetch.add_argument("url")
    fetch.add_argument("--host", required=True)
    fetch.add_argument("-n", type=int, default=100)
    fetch.add_argument("--header", action="append", default=[])
    get = commands.add_parser("get", help="GET a URL once; print {status, body}")
    get.add_argument("url")
    args = parser.parse_args(argv)
    if args.command == "get":
        try:
            status, body = _get(args.url)
        except OSError as exc:
            status, body = 0, str(exc)
        print(json.dumps({"status": status, "body": body}))
    else:
        print(json.dumps(_fetch(args.url, args.host, args.n, args.header)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
