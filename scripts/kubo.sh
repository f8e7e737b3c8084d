#!/usr/bin/env bash
# Builds the pinned reference IPFS implementation (Kubo, tools/kubo/go.mod)
# into .cache/kubo once, from the Go module proxy, and prints its path.
set -euo pipefail
cd "$(dirname "$0")/.."
version=$(awk '/github.com\/ipfs\/kubo v/{print $NF; exit}' tools/kubo/go.mod)
out="$PWD/.cache/kubo/ipfs-$version"
if [ ! -x "$out" ]; then
  mkdir -p .cache/kubo
  echo "building Kubo $version (once, about 2 minutes)..." >&2
  (cd tools/kubo && go build -o "$out.tmp" github.com/ipfs/kubo/cmd/ipfs)
  mv "$out.tmp" "$out"
fi
echo "$out"
