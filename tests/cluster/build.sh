#!/usr/bin/env bash
# Build the test control plane binaries (etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kwok)
# at the pinned versions into a per-version cache outside the repository.
#
# Why a script: the first build is CPU heavy (tens of minutes on 2 cores), so it must run once per machine and
# version, print what it is doing and how long each binary takes, and never leave a half-filled cache behind.
#   - idempotent: exits at once when the cache for the pinned versions is complete;
#   - atomic: builds into a temp dir next to the cache and renames it into place at the end;
#   - serialised: a flock makes `make cluster-binaries` and a pytest fixture building at once wait for each other.
#
# Usage: tests/cluster/build.sh            build if missing, print the cache dir on the last line
#        tests/cluster/build.sh --print-dir  only print the cache dir
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# The Kubernetes version is the one go.mod requires: one source of truth.
K8S_VERSION="$(awk '$1 == "k8s.io/kubernetes" {print $2}' "$HERE/go.mod")"
KWOK_VERSION="v0.8.0"
K8S_MINOR="$(echo "$K8S_VERSION" | cut -d. -f2)"
CACHE_ROOT="${SLUICE_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/sluice}"
# The key also covers go.mod/go.sum, so pinning another etcd or dependency never reuses stale binaries.
MODULE_KEY="$(cat "$HERE/go.mod" "$HERE/go.sum" | sha256sum | cut -c1-10)"
CACHE_DIR="$CACHE_ROOT/k8s-$K8S_VERSION-kwok-$KWOK_VERSION-$MODULE_KEY"
BINARIES=(etcd kube-apiserver kube-controller-manager kube-scheduler kwok)

if [[ "${1:-}" == "--print-dir" ]]; then
    echo "$CACHE_DIR"
    exit 0
fi

complete() {
    [[ -f "$CACHE_DIR/.complete" ]] || return 1
    local b
    for b in "${BINARIES[@]}"; do [[ -x "$CACHE_DIR/$b" ]] || return 1; done
}

if complete; then
    echo "cluster binaries: cached in $CACHE_DIR"
    echo "$CACHE_DIR"
    exit 0
fi

mkdir -p "$CACHE_ROOT"
exec 9>"$CACHE_ROOT/.build-k8s-$K8S_VERSION.lock"
echo "cluster binaries: waiting for the build lock"
flock 9
if complete; then  # someone else built it while we waited
    echo "cluster binaries: cached in $CACHE_DIR"
    echo "$CACHE_DIR"
    exit 0
fi

rm -rf "$CACHE_ROOT"/.tmp-k8s-"$K8S_VERSION"-*  # leftovers of an interrupted build (we hold the lock)
TMP="$(mktemp -d "$CACHE_ROOT/.tmp-k8s-$K8S_VERSION-XXXXXX")"
trap 'rm -rf "$TMP"' EXIT

export CGO_ENABLED=0
export GOFLAGS="${GOFLAGS:--p=2}"
export GOTOOLCHAIN="${GOTOOLCHAIN:-local}"
NICE=(nice -n 10)

VERSION_PKGS=(k8s.io/component-base/version k8s.io/client-go/pkg/version)
LDFLAGS="-s -w"
for pkg in "${VERSION_PKGS[@]}"; do
    LDFLAGS+=" -X $pkg.gitVersion=$K8S_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$K8S_MINOR"
    LDFLAGS+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
done

echo "cluster binaries: building Kubernetes $K8S_VERSION and kwok $KWOK_VERSION into $CACHE_DIR"
echo "cluster binaries: $(go version), GOFLAGS=$GOFLAGS, $(nproc) cores"
TOTAL_START=$(date +%s)

timed() {  # timed NAME CMD... : run CMD, print wall time and peak RSS
    local name="$1"; shift
    local start end
    start=$(date +%s)
    echo "cluster binaries: [$name] building ..."
    /usr/bin/time -f "cluster binaries: [$name] %e s wall, %U s user, %M KB peak RSS" "$@"
    end=$(date +%s)
    echo "cluster binaries: [$name] done in $((end - start)) s (total so far $((end - TOTAL_START)) s)"
}

cd "$HERE"
timed download "${NICE[@]}" go mod download
# kube-apiserver first: it compiles most of the shared packages, the others then mostly link.
timed kube-apiserver "${NICE[@]}" go build -trimpath -ldflags "$LDFLAGS" -o "$TMP/kube-apiserver" \
    k8s.io/kubernetes/cmd/kube-apiserver
timed kube-controller-manager "${NICE[@]}" go build -trimpath -ldflags "$LDFLAGS" \
    -o "$TMP/kube-controller-manager" k8s.io/kubernetes/cmd/kube-controller-manager
timed kube-scheduler "${NICE[@]}" go build -trimpath -ldflags "$LDFLAGS" -o "$TMP/kube-scheduler" \
    k8s.io/kubernetes/cmd/kube-scheduler
timed etcd "${NICE[@]}" go build -trimpath -ldflags "-s -w" -o "$TMP/etcd" go.etcd.io/etcd/server/v3
# kwok has no replace directives, so plain `go install` works; run it outside our module.
(cd "$TMP" && export GOBIN="$TMP" && timed kwok "${NICE[@]}" go install -trimpath -ldflags "-s -w" \
    "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION")

for b in "${BINARIES[@]}"; do [[ -x "$TMP/$b" ]] || { echo "cluster binaries: $b missing" >&2; exit 1; }; done
"$TMP/kube-apiserver" --version
"$TMP/etcd" --version | head -1
printf 'kubernetes=%s\nkwok=%s\ngo=%s\n' "$K8S_VERSION" "$KWOK_VERSION" "$(go env GOVERSION)" >"$TMP/.complete"

chmod 755 "$TMP"
rm -rf "$CACHE_DIR"  # an incomplete dir from an older script version; complete ones returned above
mv -T "$TMP" "$CACHE_DIR"
trap - EXIT
echo "cluster binaries: all built in $(( $(date +%s) - TOTAL_START )) s"
echo "$CACHE_DIR"
