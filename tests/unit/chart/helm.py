"""Run the project's pinned helm (scripts/install-helm.sh) and parse what it renders.

Shared by the chart's unit tests and the Kubernetes integration tests that apply rendered manifests. The
install script is idempotent and prints the binary's path; when helm is cached it returns in milliseconds.
"""

from __future__ import annotations

import subprocess
from functools import cache
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[3]
CHART = REPO / "charts" / "sluice"


@cache
def helm_binary() -> Path:
    done = subprocess.run(
        ["bash", str(REPO / "scripts" / "install-helm.sh")], capture_output=True, text=True, timeout=1800
    )
    if done.returncode != 0:
        raise RuntimeError(f"scripts/install-helm.sh failed:\n{done.stderr[-3000:]}")
    return Path(done.stdout.strip().splitlines()[-1])


def helm(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(helm_binary()), *args], capture_output=True, text=True, timeout=120)


def template(
    *sets: str, namespace: str = "sluice-system", release: str = "sluice", include_crds: bool = False
) -> list[dict[str, Any]]:
    """`helm template` with `--set` pairs; the rendered documents, or RuntimeError with helm's message."""
    args = ["template", release, str(CHART), "--namespace", namespace]
    if include_crds:
        args.append("--include-crds")
    for pair in sets:
        args += ["--set", pair]
    done = helm(*args)
    if done.returncode != 0:
        raise RuntimeError(done.stderr.strip())
    return [doc for doc in yaml.safe_load_all(done.stdout) if doc]


def find(documents: list[dict[str, Any]], kind: str, name: str | None = None) -> list[dict[str, Any]]:
    return [d for d in documents if d["kind"] == kind and (name is None or d["metadata"]["name"] == name)]


def one(documents: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    found = find(documents, kind)
    assert len(found) == 1, f"expected one {kind}, rendered {len(found)}"
    return found[0]
