#!/usr/bin/env bash
# Installs helm for the chart tests (helm lint, helm template), idempotently, outside the repository.
#
# Why `go install`: helm's go.mod has no replace directives (v3.7+), so the Go module proxy builds it as is,
# with no download of a prebuilt binary. The result goes to ~/.cache/sluice/bin/helm-<version> (override the
# root with SLUICE_CACHE_DIR) plus a `helm` symlink; when that binary exists and reports the pinned version,
# the script exits at once. Prints the path of the binary on stdout as its last line.
set -euo pipefail

HELM_VERSION="${HELM_VERSION:-v3.22.0}"
CACHE_ROOT="${SLUICE_CACHE_DIR:-$HOME/.cache/sluice}"
BIN_DIR="$CACHE_ROOT/bin"
TARGET="$BIN_DIR/helm-$HELM_VERSION"

# Kubernetes minor that `helm template`/`helm lint` assume without a cluster (helm's Makefile derives it from
# its client-go; unset, helm assumes v1.20 and refuses the chart's kubeVersion). v3.22.0 uses client-go v0.37.
HELM_K8S_MINOR="${HELM_K8S_MINOR:-37}"
LDFLAGS="-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION"
for pkg in pkg/lint/rules pkg/chartutil; do
  LDFLAGS="$LDFLAGS -X helm.sh/helm/v3/$pkg.k8sVersionMajor=1 -X helm.sh/helm/v3/$pkg.k8sVersionMinor=$HELM_K8S_MINOR"
done
STAMP="$TARGET.ldflags"  # the flags the cached binary was built with; other flags mean a rebuild

reports_version() {
  [ -x "$1" ] && [ "$(cat "$STAMP" 2>/dev/null)" = "$LDFLAGS" ] \
    && "$1" version --template '{{.Version}}' 2>/dev/null | grep -qx "$HELM_VERSION"
}

if reports_version "$TARGET"; then
  ln -sfn "helm-$HELM_VERSION" "$BIN_DIR/helm"
  echo "$TARGET"
  exit 0
fi

command -v go >/dev/null 2>&1 || { echo "install-helm: go is required (go install helm.sh/helm/v3)" >&2; exit 1; }
mkdir -p "$BIN_DIR"
exec 9>"$BIN_DIR/.helm.lock"
flock 9  # a concurrent `make helm` and pytest run build once
if ! reports_version "$TARGET"; then
  tmp="$(mktemp -d "$BIN_DIR/.tmp-helm.XXXXXX")"
  trap 'rm -rf "$tmp"' EXIT
  echo "install-helm: building helm $HELM_VERSION with go install (cold: a few minutes)" >&2
  start=$(date +%s)
  # Stamp the versions the way helm's Makefile does, so `helm version` and kubeVersion checks work.
  GOBIN="$tmp" CGO_ENABLED=0 GOFLAGS="${GOFLAGS:-} -trimpath" nice -n 10 go install \
    -ldflags "$LDFLAGS" "helm.sh/helm/v3/cmd/helm@$HELM_VERSION"
  mv "$tmp/helm" "$TARGET"
  printf '%s' "$LDFLAGS" > "$STAMP"
  echo "install-helm: built in $(( $(date +%s) - start )) s" >&2
fi
ln -sfn "helm-$HELM_VERSION" "$BIN_DIR/helm"
reports_version "$TARGET" || { echo "install-helm: $TARGET does not report $HELM_VERSION" >&2; exit 1; }
echo "$TARGET"
