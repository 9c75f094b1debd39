"""Benchmark of the bundled proxy against nginx as a reverse proxy, on this machine, in one run.

Starts an nginx backend (12-byte and 16 KiB responses), nginx as the reference proxy, and `sluice proxy`
with a weighted split, a header route and metrics on, all on free loopback ports; drives each with wrk
(1 thread) at 50 connections and at 1 connection, interleaving the targets and repeating each run,
and prints medians as `name=value` lines, ending with the ratios the issue sets targets for. Ratios,
not absolutes: wrk, the proxies and the backend share the cores.

Proxy-to-proxy mTLS (`mtls_rps_ratio`): two more sluice proxies in a chain, client side -> server side ->
backend, each with a plain and an mTLS path (certificates from a throw-away mesh CA, the server's SPIFFE
identity verified by the client side); both paths are driven alternately at 50 connections in the same run.

    .venv/bin/python bench/proxy.py [--seconds 2] [--repeat 3]

Installs nginx and wrk with apt-get when missing (Debian). Everything it starts is stopped by PID.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
SMALL_BODY = "hello world\n"  # 12 bytes
BIG_BYTES = 16 * 1024


def ensure_tools() -> None:
    if (shutil.which("nginx") or Path("/usr/sbin/nginx").exists()) and shutil.which("wrk"):
        return
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", "-q", "nginx-light", "wrk"]
    if subprocess.run(install, env=env, capture_output=True).returncode != 0:
        subprocess.run(["apt-get", "update", "-q"], env=env, check=True, capture_output=True)
        subprocess.run(
            ["apt-get", "install", "-y", "-q", "nginx", "wrk"], env=env, check=True, capture_output=True
        )


def nginx_binary() -> str:
    return shutil.which("nginx") or "/usr/sbin/nginx"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(check: Callable[[], bool], what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError):
            if check():
                return
        time.sleep(0.05)
    raise TimeoutError(f"timed out waiting for {what}")


def answers(url: str) -> bool:
    with urllib.request.urlopen(url, timeout=1) as response:
        return response.status == 200


def nginx_conf(workdir: Path, name: str, port: int, body: str) -> Path:
    conf = workdir / f"{name}.conf"
    temp = workdir / f"{name}-temp"
    temp.mkdir(exist_ok=True)
    conf.write_text(f"""
worker_processes 1;
daemon off;
pid {workdir}/{name}.pid;
error_log {workdir}/{name}-error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {temp}/body;
    proxy_temp_path {temp}/proxy;
    fastcgi_temp_path {temp}/fastcgi;
    uwsgi_temp_path {temp}/uwsgi;
    scgi_temp_path {temp}/scgi;
    keepalive_requests 1000000;
    {body}
}}
""")
    return conf


@contextlib.contextmanager
def process(args: list[str], log: Path) -> Iterator[subprocess.Popen]:
    with open(log, "ab") as out:
        proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, start_new_session=True, cwd=ROOT)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


_UNITS = {"us": 1.0, "ms": 1000.0, "s": 1_000_000.0}


def wrk(url: str, connections: int, seconds: float, header: str | None = None) -> dict[str, float]:
    args = ["wrk", "-t1", f"-c{connections}", f"-d{seconds:g}s", "--latency", url]
    if header:
        args[1:1] = ["-H", header]
    out = subprocess.run(args, capture_output=True, text=True, check=True, timeout=seconds + 30).stdout
    result = {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))}
    for quantile in ("50", "99"):
        value, unit = re.search(rf"^\s+{quantile}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M).groups()
        result[f"p{quantile}_us"] = float(value) * _UNITS[unit]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    socket_errors = re.search(r"Socket errors: (.*)", out)
    result["errors"] = float(errors.group(1)) if errors else 0.0
    if socket_errors:
        result["errors"] += sum(int(n) for n in re.findall(r"\d+", socket_errors.group(1)))
    return result


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def mesh_chain(workdir: Path, backend_port: int) -> tuple[dict[str, Any], dict[str, Any], int, int]:
    """Configs of a client-side and a server-side proxy, and the client side's plain and mTLS ports."""
    sys.path.insert(0, str(ROOT))  # run as a script: make the project importable for the CA
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding

    from mesh.identity import CertificateAuthority
    from mesh.proxy.certs_helper import key_and_csr

    ca = CertificateAuthority.generate()
    (workdir / "mesh-ca.crt").write_bytes(ca.root.public_bytes(Encoding.PEM))
    tls: dict[str, dict[str, Any]] = {}
    for name in ("client", "server"):
        key_pem, csr_pem = key_and_csr()
        leaf = ca.issue(
            x509.load_pem_x509_csr(csr_pem), f"spiffe://cluster.local/ns/bench/sa/{name}", time.time()
        )
        (workdir / f"{name}.crt").write_bytes(ca.chain_pem(leaf))
        (workdir / f"{name}.key").write_bytes(key_pem)
        files = {
            "cert": workdir / f"{name}.crt",
            "key": workdir / f"{name}.key",
            "ca": workdir / "mesh-ca.crt",
        }
        tls[name] = {"files": {kind: str(path) for kind, path in files.items()}}
    server_plain, server_tls, client_plain, client_tls = (free_port() for _ in range(4))

    def service(name: str, port: int, endpoint_port: int, **extra: Any) -> dict[str, Any]:
        backend = {"endpoints": [f"127.0.0.1:{endpoint_port}"], **extra.pop("backend", {})}
        return {"name": name, "port": port, "backends": {name: backend}, "split": {name: 100}, **extra}

    server_identity = "spiffe://cluster.local/ns/bench/sa/server"
    server = {
        "tls": tls["server"],
        "services": [
            service("plain", server_plain, backend_port),
            service("mtls", server_tls, backend_port, tls=True),
        ],
    }
    client = {
        "tls": tls["client"],
        "services": [
            service("plain", client_plain, server_plain),
            service("mtls", client_tls, server_tls, backend={"identity": server_identity}),
        ],
    }
    return client, server, client_plain, client_tls


def backend_conf(workdir: Path, port: int) -> Path:
    """nginx as the backend: 12 bytes at /, 16 KiB at /big."""
    (workdir / "big").write_bytes(b"x" * BIG_BYTES)
    (workdir / "big").chmod(0o644)
    return nginx_conf(
        workdir,
        "backend",
        port,
        f"""
    server {{
        listen 127.0.0.1:{port} backlog=4096;
        location = / {{ default_type text/plain; return 200 "{SMALL_BODY.strip()}\\n"; }}
        location = /big {{ alias {workdir}/big; }}
    }}""",
    )


def sluice_config(port: int, endpoint: str) -> dict[str, Any]:
    """The proxy under test: a 90/10 split and a header route (both backends on one endpoint)."""
    return {
        "services": [
            {
                "name": "bench",
                "port": port,
                "backends": {
                    "bench-primary": {"endpoints": [endpoint]},
                    "bench-canary": {"endpoints": [endpoint]},
                },
                "split": {"bench-primary": 90, "bench-canary": 10},
                "routes": [
                    {
                        "name": "testers",
                        "match": [{"headers": {"x-canary": {"exact": "insider"}}}],
                        "split": {"bench-canary": 100},
                    }
                ],
            }
        ]
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2.0, help="length of each wrk run")
    parser.add_argument("--repeat", type=int, default=3, help="runs per target and load; medians are printed")
    options = parser.parse_args()
    ensure_tools()
    backend_port, nginx_port, sluice_port, admin_port = (free_port() for _ in range(4))
    with tempfile.TemporaryDirectory(prefix="sluice-bench-") as tmp:
        workdir = Path(tmp)
        workdir.chmod(0o755)  # nginx workers run unprivileged and must read the 16 KiB file
        backend = backend_conf(workdir, backend_port)
        reference = nginx_conf(
            workdir,
            "reference",
            nginx_port,
            f"""
    upstream backend {{ server 127.0.0.1:{backend_port}; keepalive 128; }}
    server {{
        listen 127.0.0.1:{nginx_port} backlog=4096;
        location / {{
            proxy_pass http://backend;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }}
    }}""",
        )
        config = sluice_config(sluice_port, f"127.0.0.1:{backend_port}")
        config_path = workdir / "sluice.yaml"
        config_path.write_text(yaml.safe_dump(config))
        sluice = [
            sys.executable,
            "-m",
            "controller.cli.proxy",
            "--config",
            str(config_path),
            "--admin-port",
            str(admin_port),
        ]
        mesh_client, mesh_server, mesh_plain_port, mesh_tls_port = mesh_chain(workdir, backend_port)
        mesh_commands = []
        for name, mesh_config in (("mesh-client", mesh_client), ("mesh-server", mesh_server)):
            (workdir / f"{name}.yaml").write_text(yaml.safe_dump(mesh_config))
            mesh_commands.append(
                [*sluice[:4], str(workdir / f"{name}.yaml"), "--admin-port", str(free_port())]
            )
        with (
            process([nginx_binary(), "-c", str(backend), "-p", str(workdir)], workdir / "backend.log"),
            process([nginx_binary(), "-c", str(reference), "-p", str(workdir)], workdir / "reference.log"),
            process(sluice, workdir / "sluice.log") as sluice_proc,
            process(mesh_commands[0], workdir / "mesh-client.log"),
            process(mesh_commands[1], workdir / "mesh-server.log"),
        ):
            targets = {"direct": backend_port, "nginx": nginx_port, "sluice": sluice_port}
            for port in targets.values():
                wait_until(lambda port=port: answers(f"http://127.0.0.1:{port}/"), f"port {port}")
            wrk(f"http://127.0.0.1:{sluice_port}/", 50, 1)  # warm pools and caches
            wrk(f"http://127.0.0.1:{nginx_port}/", 50, 1)
            results: dict[str, dict[str, float]] = {}
            for label, path, connections in (("c50", "/", 50), ("c50_16k", "/big", 50), ("c1", "/", 1)):
                runs: dict[str, list[dict[str, float]]] = {name: [] for name in targets}
                for _ in range(options.repeat):  # interleaved, so a busy moment hits every target alike
                    for name, port in targets.items():
                        runs[name].append(wrk(f"http://127.0.0.1:{port}{path}", connections, options.seconds))
                for name, samples in runs.items():
                    run = {key: statistics.median(s[key] for s in samples) for key in samples[0]}
                    results[f"{name}_{label}"] = run
                    for key, value in run.items():
                        print(f"{name}_{label}_{key}={value:.1f}", flush=True)
            mesh_ports = {"plain": mesh_plain_port, "mtls": mesh_tls_port}
            for port in mesh_ports.values():
                wait_until(lambda port=port: answers(f"http://127.0.0.1:{port}/"), f"port {port}")
                wrk(f"http://127.0.0.1:{port}/", 50, 1)  # warm: the pool's handshakes happen here
            mesh_runs: dict[str, list[dict[str, float]]] = {name: [] for name in mesh_ports}
            for _ in range(options.repeat):  # interleaved, as above
                for name, port in mesh_ports.items():
                    mesh_runs[name].append(wrk(f"http://127.0.0.1:{port}/", 50, options.seconds))
            for name, samples in mesh_runs.items():
                run = {key: statistics.median(s[key] for s in samples) for key in samples[0]}
                results[f"mesh_{name}_c50"] = run
                for key, value in run.items():
                    print(f"mesh_{name}_c50_{key}={value:.1f}", flush=True)
            header_run = wrk(f"http://127.0.0.1:{sluice_port}/", 50, options.seconds, "x-canary: insider")
            print(f"sluice_c50_header_route_rps={header_run['rps']:.1f}")
            rss = rss_mb(sluice_proc.pid)
            metrics = (
                urllib.request.urlopen(f"http://127.0.0.1:{admin_port}/metrics", timeout=5).read().decode()
            )
            scraped = sum(
                float(line.rsplit(" ", 1)[1])
                for line in metrics.splitlines()
                if line.startswith("sluice_proxy_requests_total{")
            )
            print(f"sluice_requests_counted={scraped:.0f}")
    print(f"rps_ratio_vs_nginx_16k={results['sluice_c50_16k']['rps'] / results['nginx_c50_16k']['rps']:.3f}")
    print(f"rps_ratio_vs_nginx={results['sluice_c50']['rps'] / results['nginx_c50']['rps']:.3f}")
    print(f"p99_ratio_vs_nginx={results['sluice_c50']['p99_us'] / results['nginx_c50']['p99_us']:.3f}")
    print(f"added_p50_us_c1={results['sluice_c1']['p50_us'] - results['direct_c1']['p50_us']:.1f}")
    print(f"rss_mb={rss:.1f}")
    print(f"mtls_rps_ratio={results['mesh_mtls_c50']['rps'] / results['mesh_plain_c50']['rps']:.3f}")


if __name__ == "__main__":
    main()
