#!/bin/sh
# Builds the DCMB modules of dcmb/modules into WASI preview 1 modules,
# reproducibly, from their source tree as certifiers receive it (the
# packages with a go.mod of their own), and prints each module's SHA-256
# and the source tree's hash, what a proposal names.
#
#   scripts/build-modules.sh [OUTDIR]     (default .cache/modules)
#
# The recipe is internal/wasmbuild's, as scripts/build-programs.sh; every
# setting that changes the bytes is given here, none is taken from the
# environment. 'sealnet module build' rebuilds a proposed module with the
# recipe its proposal records.
set -eu
cd "$(dirname "$0")/.."
out=${1:-.cache/modules}
mkdir -p "$out"
out=$(cd "$out" && pwd)
src=$(mktemp -d)
trap 'rm -rf "$src"' EXIT
mkdir -p "$src/abi" "$src/maintenance"
cp dcmb/modules/abi/*.go "$src/abi/"
cp dcmb/modules/maintenance/*.go "$src/maintenance/"
printf 'module github.com/sealnet/sealnet/dcmb/modules\n\ngo 1.26\n' > "$src/go.mod"
for p in maintenance; do
	(cd "$src" && GOOS=wasip1 GOARCH=wasm CGO_ENABLED=0 GOFLAGS= GOWASM= GOEXPERIMENT= GOTOOLCHAIN=local GOPROXY=off GOWORK=off \
		go build -trimpath -buildvcs=false -ldflags="-s -w -buildid=" -o "$out/$p.wasm" "./$p")
	printf '%s  %s\n' "$(sha256sum "$out/$p.wasm" | cut -d' ' -f1)" "$out/$p.wasm"
done
echo "built with $(go version)"
