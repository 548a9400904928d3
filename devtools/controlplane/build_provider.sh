#!/usr/bin/env bash
# Builds (or reuses) the real Crossplane AWS provider (github.com/upbound/provider-aws/v2, cmd/provider/monolith)
# for the real-provider test tier (tests/provider). Same cache layout as build.sh: the binary lives outside the
# repository under a key made of this tools module's go.mod/go.sum/tools.go and this script, so a warm machine
# reuses it in well under a second. Prints the binary's path on stdout; everything else goes to stderr.
#
# Why the monolith and not one family member per service: every family member's main imports the whole of
# apis/cluster and apis/namespaced (the scheme of all ~170 services) and the whole Terraform provider, so each
# member compiles nearly what the monolith compiles and links a binary nearly as large; the 16 services we render
# plus the family's config member would be 17 such links. The monolith is one link and starts only the
# controllers whose CRDs are installed (its SafeStart CRD gate, cmd/provider/monolith/zz_main.go).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
tools="$here/tools/provider"
cache_root="${REGIONAL_OPERATOR_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/regional-operator}"
key="$(cat "$0" "$tools/go.mod" "$tools/go.sum" "$tools/tools.go" | sha256sum | cut -c1-16)"
bin="$cache_root/provider/$key/bin"
exe="$bin/provider-aws"

if [ -x "$exe" ]; then echo "$exe"; exit 0; fi

# The provider's go.mod replaces terraform-provider-aws with Upbound's fork; the checksum database does not know
# the fork, so its sums come from go.sum alone.
export CGO_ENABLED=0 GOFLAGS=-mod=mod GONOSUMDB="${GONOSUMDB:+$GONOSUMDB,}github.com/upbound/terraform-provider-aws"
mkdir -p "$cache_root/provider"
tmp="$(mktemp -d "$cache_root/provider/.build-XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
start=$(date +%s)

ver="$(cd "$tools" && go list -m -f '{{.Version}}' github.com/upbound/provider-aws/v2)"
echo "building provider-aws $ver (monolith) ..." >&2
(cd "$tools" && go build -trimpath \
  -ldflags "-s -w -X github.com/upbound/provider-aws/v2/internal/version.Version=$ver" \
  -o "$tmp/provider-aws" github.com/upbound/provider-aws/v2/cmd/provider/monolith)

mkdir -p "$(dirname "$bin")"
rm -rf "$bin"
mv "$tmp" "$bin"
trap - EXIT
echo "provider-aws built in $(( $(date +%s) - start ))s: $exe ($(du -sh "$exe" | cut -f1))" >&2
echo "$exe"
