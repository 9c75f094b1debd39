"""The tests exercise the build users run: `make setup` compiles the proxy's typed modules (setup.py)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from mesh.proxy.build import describe, typed_modules

ROOT = Path(__file__).resolve().parents[3]


@pytest.mark.skipif(os.environ.get("SLUICE_PURE_PYTHON") == "1", reason="pure-Python build asked for")
def test_the_data_plane_under_test_is_compiled_and_current():
    build, stale = describe()
    assert (build, stale) == ("compiled", []), "run `make setup` to compile the proxy's hot path"


def test_every_typed_module_has_its_source():
    assert {"server", "exchange", "upstream_pool"} <= set(typed_modules())
    for name in typed_modules():
        assert (ROOT / "mesh" / "proxy" / f"{name}.py").exists()


def test_the_proxy_says_which_build_it_runs(tmp_path):
    config = tmp_path / "empty.yaml"
    config.write_text("services: []\n")
    proc = subprocess.Popen(
        [sys.executable, "-m", "controller.cli.proxy", "--config", str(config), "--admin-port", "0"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        first_line = proc.stdout.readline()  # blocks until the proxy is up (or has died)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    assert "data plane: compiled" in first_line or "data plane: python" in first_line, first_line
