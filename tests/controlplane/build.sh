#!/usr/bin/env bash
# Builds (or reuses) the real control-plane binaries the tests run: kube-apiserver, kube-controller-manager,
# kubectl (k8s.io/kubernetes), etcd (go.etcd.io/etcd/server/v3), helm (helm.sh/helm/v3) and the Crossplane CLI
# (github.com/crossplane/crossplane/v2/cmd/crank, for `crossplane render`), all from the Go module proxy - the
# envtest method, no Docker. Binaries are cached outside the repository under a key made of
# the tools modules' go.mod/go.sum and this script, so a warm machine reuses them in well under a second.
# Prints the bin directory on stdout; everything else goes to stderr.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
tools="$here/tools"
cache_root="${REGIONAL_OPERATOR_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/regional-operator}"
key="$(cat "$0" "$tools"/*/go.mod "$tools"/*/go.sum | sha256sum | cut -c1-16)"
bin="$cache_root/controlplane/$key/bin"
wanted=(etcd kube-apiserver kube-controller-manager kubectl helm crossplane)

have_all() { for b in "${wanted[@]}"; do [ -x "$bin/$b" ] || return 1; done; }
if have_all; then echo "$bin"; exit 0; fi

export CGO_ENABLED=0 GOFLAGS=-mod=mod
tmp="$(mktemp -d "$cache_root/controlplane/.build-XXXXXX" 2>/dev/null || { mkdir -p "$cache_root/controlplane"; mktemp -d "$cache_root/controlplane/.build-XXXXXX"; })"
trap 'rm -rf "$tmp"' EXIT
start=$(date +%s)

mod_version() { (cd "$1" && go list -m -f '{{.Version}}' "$2"); }

k8s_ver="$(mod_version "$tools/k8s" k8s.io/kubernetes)"
minor="$(echo "$k8s_ver" | cut -d. -f2)"
build_date="$(date -u -d "@${SOURCE_DATE_EPOCH:-0}" +%Y-%m-%dT%H:%M:%SZ)"
ld=""
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  ld+=" -X $pkg.gitVersion=$k8s_ver -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
  ld+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=$build_date"
done
echo "building kube-apiserver, kube-controller-manager, kubectl $k8s_ver ..." >&2
(cd "$tools/k8s" && go build -trimpath -ldflags "-s -w $ld" -o "$tmp/" \
  k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager k8s.io/kubernetes/cmd/kubectl)

echo "building etcd $(mod_version "$tools/etcd" go.etcd.io/etcd/server/v3) ..." >&2
(cd "$tools/etcd" && go build -trimpath -ldflags "-s -w" -o "$tmp/etcd" go.etcd.io/etcd/server/v3)

helm_ver="$(mod_version "$tools/helm" helm.sh/helm/v3)"
echo "building helm $helm_ver ..." >&2
(cd "$tools/helm" && go build -trimpath -ldflags "-s -w -X helm.sh/helm/v3/internal/version.version=$helm_ver" \
  -o "$tmp/helm" helm.sh/helm/v3/cmd/helm)

crossplane_ver="$(mod_version "$tools/crossplane" github.com/crossplane/crossplane/v2)"
echo "building crossplane (crank) $crossplane_ver ..." >&2
(cd "$tools/crossplane" && go build -trimpath \
  -ldflags "-s -w -X github.com/crossplane/crossplane/v2/internal/version.version=$crossplane_ver" \
  -o "$tmp/crossplane" github.com/crossplane/crossplane/v2/cmd/crank)

mkdir -p "$(dirname "$bin")"
rm -rf "$bin"
mv "$tmp" "$bin"
trap - EXIT
echo "control-plane binaries built in $(( $(date +%s) - start ))s: $bin ($(du -sh "$bin" | cut -f1))" >&2
echo "$bin"
