#!/usr/bin/env bash
# Installs the Debian packages sluice's tests use for real (and the tools that build the rest). Idempotent: does nothing when present.
set -euo pipefail
need=()
command -v prometheus >/dev/null 2>&1 || need+=(prometheus)
# The mesh tests build network namespaces (ip), the cluster harness ties components to pytest (setpriv).
command -v ip >/dev/null 2>&1 || need+=(iproute2)
command -v setpriv >/dev/null 2>&1 || need+=(util-linux)
# setup.py compiles the proxy's hot path with Cython: a C compiler and the Python headers.
command -v cc >/dev/null 2>&1 || need+=(gcc libc6-dev)
include=$(python3 -c 'import sysconfig; print(sysconfig.get_paths()["include"])')
[ -f "$include/Python.h" ] || need+=(python3-dev)
if [ ${#need[@]} -eq 0 ]; then exit 0; fi
if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
echo "installing Debian packages: ${need[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
# The Debian package starts a system Prometheus on :9090; tests run their own on free ports.
if command -v systemctl >/dev/null 2>&1; then $SUDO systemctl disable --now prometheus >/dev/null 2>&1 || true; fi
