"""A real Prometheus for tests: the Debian `prometheus` binary on a free loopback port.

Scrapes the given targets every second into a temporary TSDB, and is ready only when every target has
been scraped successfully at least once, so a test that sends traffic afterwards knows Prometheus
already holds the counters' starting values (rate() ignores a counter's first sample).
"""

from __future__ import annotations

import contextlib
import json
import shutil
import subprocess
import urllib.parse
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml

from tests.harness.net import free_port, wait_for_http
from tests.harness.poll import wait_until
from tests.harness.processes import running


def prometheus_binary() -> str | None:
    return shutil.which("prometheus")


@dataclass(frozen=True)
class PrometheusServer:
    url: str
    process: subprocess.Popen
    log: Path

    def api(self, path: str, **params: str) -> dict:
        query = f"?{urllib.parse.urlencode(params)}" if params else ""
        with urllib.request.urlopen(f"{self.url}/api/v1/{path}{query}", timeout=5) as response:
            return json.load(response)["data"]

    def value(self, promql: str) -> float | None:
        """The single value of an instant query, or None when it returns nothing."""
        result = self.api("query", query=promql)["result"]
        return float(result[0]["value"][1]) if result else None

    def targets_up(self, count: int) -> bool:
        active = self.api("targets")["activeTargets"]
        return len(active) == count and all(t["health"] == "up" for t in active)


@contextlib.contextmanager
def running_prometheus(
    targets: Sequence[str], workdir: Path, scrape_interval: str = "1s", timeout: float = 30.0
) -> Iterator[PrometheusServer]:
    """Prometheus scraping `targets` ("127.0.0.1:port", path /metrics); stopped by its PID on exit."""
    binary = prometheus_binary()
    if binary is None:
        raise RuntimeError("prometheus is not installed (scripts/install-system-deps.sh installs it)")
    workdir.mkdir(parents=True, exist_ok=True)
    config = {
        "global": {"scrape_interval": scrape_interval, "scrape_timeout": scrape_interval},
        "scrape_configs": [{"job_name": "sluice", "static_configs": [{"targets": list(targets)}]}],
    }
    config_path = workdir / "prometheus.yml"
    config_path.write_text(yaml.safe_dump(config))
    port = free_port()
    args = [
        binary,
        f"--config.file={config_path}",
        f"--storage.tsdb.path={workdir / 'data'}",
        f"--web.listen-address=127.0.0.1:{port}",
        "--log.level=warn",
    ]
    log = workdir / "prometheus.log"
    with running(args, log) as process:
        server = PrometheusServer(f"http://127.0.0.1:{port}", process, log)
        wait_for_http(f"{server.url}/-/ready", timeout=timeout)
        wait_until(lambda: server.targets_up(len(targets)), timeout=timeout, what="Prometheus targets up")
        yield server
