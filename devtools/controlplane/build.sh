#!/usr/bin/env bash
# Builds (or reuses) the real control-plane binaries the tests run: kube-apiserver, kube-controller-manager,
# kubectl (k8s.io/kubernetes), etcd (go.etcd.io/etcd/server/v3), helm (helm.sh/helm/v3) and the Crossplane CLI
# (github.com/crossplane/crossplane/v2/cmd/crank, for `crossplane render`), all from the Go module proxy - the
# envtest method, no Docker. Binaries are cached outside the repository under a key made of the go.mod/go.sum of
# the tools modules it builds (etcd, helm, k8s, crossplane) and this script, so a warm machine reuses them in well
# under a second.
# Prints the bin directory on stdout; everything else goes to stderr. A cold build says first what it is about to
# do and roughly how long it takes, since the Go toolchain itself prints only a long list of `go: downloading`.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
tools="$here/tools"
cache_root="${REGIONAL_OPERATOR_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/regional-operator}"
# What goes into the binaries: the modules of the tools this script builds and this script's commands (its
# comments and progress messages, the `say` lines, do not change a binary, so rewording them does not force a
# rebuild). The tools dirs are listed explicitly, not tools/*: tools/provider has its own script
# (build_provider.sh) and cache, so bumping it must not rebuild the control plane. A new tools dir that THIS
# script builds must be added to BOTH brace lists below, or changing its module would not rebuild its binary.
key="$(cat <(grep -v -e '^[[:space:]]*#' -e '^[[:space:]]*say ' "$0") \
  "$tools"/{etcd,helm,k8s,crossplane}/go.mod "$tools"/{etcd,helm,k8s,crossplane}/go.sum | sha256sum | cut -c1-16)"
bin="$cache_root/controlplane/$key/bin"
wanted=(etcd kube-apiserver kube-controller-manager kubectl helm crossplane)

have_all() { for b in "${wanted[@]}"; do [ -x "$bin/$b" ] || return 1; done; }
if have_all; then echo "$bin"; exit 0; fi

say() { echo "build.sh: $*" >&2; }
if ! command -v go >/dev/null; then
  echo "build.sh: no Go toolchain on PATH: install Go (see tools/*/go.mod for the version) or set REGIONAL_OPERATOR_BIN" >&2
  exit 1
fi
elapsed() { echo "$(( $(date +%s) - start ))s"; }
modcache="$(go env GOMODCACHE)"
say "no control-plane binaries cached for this build (key $key): building kube-apiserver, kube-controller-manager,"
say "kubectl, etcd, helm and the Crossplane CLI from source with the Go module proxy, once; later runs reuse them in under a second."
k8s_required="$(awk '$1 == "k8s.io/kubernetes" {print $2} $1 == "require" && $2 == "k8s.io/kubernetes" {print $3}' \
  "$tools/k8s/go.mod" | head -1)"
if [ -d "$modcache/k8s.io/kubernetes@$k8s_required" ]; then
  say "the Go module cache already holds the sources: no downloads, compiling only (most of the figure below)."
else
  say "first run on this machine: Go first downloads about 260 modules (the 'go: downloading' lines that follow),"
  say "then compiles."
fi
say "measured on a fresh 2-core machine (empty Go module cache, downloads included): 18 minutes, 13 of them CPU,"
say "for the first five; the Crossplane CLI adds about 6.5 CPU minutes (3 to 4 minutes on an idle 2-core machine)."
say "binaries go to $bin"

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
say "[1/4] kube-apiserver, kube-controller-manager, kubectl $k8s_ver (the largest part: most of the downloads and time) ..."
(cd "$tools/k8s" && go build -trimpath -ldflags "-s -w $ld" -o "$tmp/" \
  k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager k8s.io/kubernetes/cmd/kubectl)

say "[2/4] etcd $(mod_version "$tools/etcd" go.etcd.io/etcd/server/v3) ($(elapsed) so far) ..."
(cd "$tools/etcd" && go build -trimpath -ldflags "-s -w" -o "$tmp/etcd" go.etcd.io/etcd/server/v3)

helm_ver="$(mod_version "$tools/helm" helm.sh/helm/v3)"
say "[3/4] helm $helm_ver ($(elapsed) so far) ..."
(cd "$tools/helm" && go build -trimpath -ldflags "-s -w -X helm.sh/helm/v3/internal/version.version=$helm_ver" \
  -o "$tmp/helm" helm.sh/helm/v3/cmd/helm)

crossplane_ver="$(mod_version "$tools/crossplane" github.com/crossplane/crossplane/v2)"
say "[4/4] crossplane (crank) $crossplane_ver ($(elapsed) so far) ..."
(cd "$tools/crossplane" && go build -trimpath \
  -ldflags "-s -w -X github.com/crossplane/crossplane/v2/internal/version.version=$crossplane_ver" \
  -o "$tmp/crossplane" github.com/crossplane/crossplane/v2/cmd/crank)

mkdir -p "$(dirname "$bin")"
rm -rf "$bin"
mv "$tmp" "$bin"
trap - EXIT
say "control-plane binaries built in $(elapsed): $bin ($(du -sh "$bin" | cut -f1))"
echo "$bin"
