"""CPU instructions the bundled proxy executes per request, counted by callgrind: a figure that moves by
well under 1% between runs, where req/s moves by 10%. Use it to judge a change to the hot path; use
bench/proxy.py for throughput against nginx.

Starts the nginx backend and `sluice proxy` (the same config as bench/proxy.py) with the proxy under
valgrind's callgrind, warms it up, counts user-space instructions only while wrk drives 10 connections,
and prints `requests=`, `instructions_per_request=` and where the callgrind profile was written (open it
with callgrind_annotate --inclusive=yes). Kernel time is not counted.

    .venv/bin/python bench/proxy_instructions.py [--seconds 6] [--keep-profile DIR]

Installs valgrind, nginx and wrk with apt-get when missing (Debian).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
import proxy as bench  # bench/proxy.py: the same backend and proxy config


def ensure_valgrind() -> None:
    if shutil.which("valgrind") and shutil.which("callgrind_control"):
        return
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", "-q", "valgrind"]
    if subprocess.run(install, env=env, capture_output=True).returncode:
        subprocess.run(["apt-get", "update", "-q"], env=env, check=True, capture_output=True)
        subprocess.run(install, env=env, check=True, capture_output=True)


def requests_done(url: str, seconds: float) -> int:
    out = subprocess.run(
        ["wrk", "-t1", "-c10", f"-d{seconds:g}s", url], capture_output=True, text=True, check=True
    ).stdout
    if "Non-2xx" in out or "Socket errors" in out:
        raise RuntimeError(f"requests failed during the count:\n{out}")
    return int(re.search(r"(\d+) requests in", out).group(1))


def total_instructions(profile: Path) -> int:
    found = re.search(r"^totals: (\d+)", profile.read_text(errors="replace"), re.M)
    return int(found.group(1)) if found else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=6.0, help="length of the counted wrk run")
    parser.add_argument("--keep-profile", type=Path, help="directory to copy the callgrind profile into")
    options = parser.parse_args()
    bench.ensure_tools()
    ensure_valgrind()
    backend_port, sluice_port, admin_port = (bench.free_port() for _ in range(3))
    with tempfile.TemporaryDirectory(prefix="sluice-insn-") as tmp:
        workdir = Path(tmp)
        workdir.chmod(0o755)
        backend = bench.backend_conf(workdir, backend_port)
        config_path = workdir / "sluice.yaml"
        config_path.write_text(yaml.safe_dump(bench.sluice_config(sluice_port, f"127.0.0.1:{backend_port}")))
        profile = workdir / "callgrind.out"
        sluice = [
            "valgrind", "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={profile}",
            sys.executable, "-m", "controller.cli.proxy", "--config", str(config_path),
            "--admin-port", str(admin_port),
        ]  # fmt: skip
        url = f"http://127.0.0.1:{sluice_port}/"
        nginx = [bench.nginx_binary(), "-c", str(backend), "-p", str(workdir)]
        with (
            bench.process(nginx, workdir / "backend.log"),
            bench.process(sluice, workdir / "sluice.log") as proxy,
        ):

            def control(*command: str) -> None:
                args = ["callgrind_control", *command, str(proxy.pid)]
                subprocess.run(args, check=True, capture_output=True)

            bench.wait_until(lambda: bench.answers(url), "the proxy under valgrind", timeout=120)
            requests_done(url, 3)  # warm: pooled connections, caches, the interpreter's specialisation
            control("-i", "on")
            requests = requests_done(url, options.seconds)
            control("-i", "off")
            control("-d")  # write the profile
        # One profile from the dump asked for, one at exit (empty: counting was off by then).
        profiles = workdir.glob("callgrind.out*")
        instructions, counted = max((total_instructions(profile), profile) for profile in profiles)
        if options.keep_profile:
            options.keep_profile.mkdir(parents=True, exist_ok=True)
            counted = Path(shutil.copy(counted, options.keep_profile / "callgrind.out"))
    print(f"requests={requests}")
    print(f"instructions_per_request={instructions / requests:.0f}")
    if options.keep_profile:
        print(f"profile={counted}")


if __name__ == "__main__":
    main()
