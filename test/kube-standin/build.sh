#!/bin/sh
# Build the kube stand-in as one executable. The Kubernetes version it pretends to be is baked in:
#   KUBE_STANDIN_VERSION=v1.22.2 test/kube-standin/build.sh [OUTFILE]
set -eu
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
version=${KUBE_STANDIN_VERSION:-v1.22.2}
case "$version" in v*) ;; *) version="v$version" ;; esac
out=${1:-$here/dist/kube-standin}
mkdir -p "$(dirname "$out")"
"$repo/node_modules/.bin/bun" build --compile "$here/main.ts" --outfile "$out" \
  --define "KUBE_STANDIN_BAKED_VERSION=\"$version\"" >/dev/null
echo "$out ($version)"
