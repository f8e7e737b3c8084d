#!/bin/sh
# Builds the example compute job programs into WASI preview 1 modules,
# reproducibly, and prints each module's SHA-256 (what a job names).
#
#   scripts/build-programs.sh [OUTDIR]     (default .cache/programs)
#
# Every setting that changes the bytes is given here, none is taken from
# the environment: the same source and Go release give the same modules.
# The recipe is the one of internal/wasmbuild.
set -eu
cd "$(dirname "$0")/.."
out=${1:-.cache/programs}
mkdir -p "$out"
for p in stats anomaly; do
	GOOS=wasip1 GOARCH=wasm CGO_ENABLED=0 GOFLAGS= GOWASM= GOEXPERIMENT= GOTOOLCHAIN=local \
		go build -trimpath -buildvcs=false -ldflags="-s -w -buildid=" -o "$out/$p.wasm" "./compute/programs/$p"
	printf '%s  %s\n' "$(sha256sum "$out/$p.wasm" | cut -d' ' -f1)" "$out/$p.wasm"
done
echo "built with $(go version)"
