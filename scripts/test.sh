#!/usr/bin/env bash
# Runs every sealnet test: installs or builds what the tests need (Mosquitto
# from Debian's packages; node-opcua-server, Eclipse Tahu's Sparkplug
# client and Helia, pinned, from the npm registry;
# the pinned Kubo from the Go module proxy, cached in .cache/), checks formatting and vet, runs the
# unit, integration, interop and multi-process tests under the race detector
# (including the fault campaign's short mode), then a short fuzz pass
# over each decoder of untrusted bytes.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== go vet and gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$unformatted" ]; then
  echo "gofmt would change: $unformatted" >&2
  exit 1
fi
go vet ./...

echo "== reference peers"
sudo=""
[ "$(id -u)" = 0 ] || sudo="sudo"
apt_updated=""
apt_install() {
  [ -n "$apt_updated" ] || { $sudo apt-get update -qq; apt_updated=1; }
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "$@" >/dev/null
}
# Mosquitto, Debian's package, for the MQTT source tests
if ! command -v mosquitto >/dev/null 2>&1 && [ ! -x /usr/sbin/mosquitto ]; then
  echo "installing mosquitto from Debian's packages"
  apt_install mosquitto
fi
# node-opcua-server (pinned in its package-lock.json) for the OPC UA source tests
if ! command -v npm >/dev/null 2>&1; then
  echo "installing nodejs and npm from Debian's packages"
  apt_install nodejs npm
fi
if [ ! -d dcmb/source/testdata/opcua-server/node_modules/node-opcua-server ]; then
  echo "installing node-opcua-server from the npm registry"
  (cd dcmb/source/testdata/opcua-server && npm ci --no-audit --no-fund --loglevel=error)
fi
# Eclipse Tahu's Sparkplug B JavaScript client (pinned in its package-lock.json) for the Sparkplug source tests
if [ ! -d dcmb/source/testdata/sparkplug-edge/node_modules/sparkplug-client ]; then
  echo "installing sparkplug-client from the npm registry"
  (cd dcmb/source/testdata/sparkplug-edge && npm ci --no-audit --no-fund --loglevel=error)
fi
# Helia (JavaScript IPFS on libp2p 3, pinned in its package-lock.json) for the libp2p interop tests
if [ ! -d e2e/testdata/helia/node_modules/helia ]; then
  echo "installing helia from the npm registry"
  (cd e2e/testdata/helia && npm ci --no-audit --no-fund --loglevel=error)
fi
node --version
SEALNET_KUBO=$(bash scripts/kubo.sh)
export SEALNET_KUBO
"$SEALNET_KUBO" version

echo "== tests, with the race detector"
# Every package runs under the race detector, and the e2e tests' node
# processes are built with it too, except the three that only execute
# WebAssembly in one goroutine (about 10x slower under it: they run after,
# without it).
wasm_only='/compute/programs$|/compute/programs/|/compute/runner$|/sandbox$'
go test -race -count=1 -timeout 45m $(go list ./... | grep -Ev "$wasm_only")
echo "== tests of the WebAssembly runners, without the race detector"
go test -count=1 -timeout 20m $(go list ./... | grep -E "$wasm_only")

echo "== fuzz (short pass per target)"
# every Fuzz function in the tree, so a new decoder's target is never left
# out: "DIR NAME" per line
fuzztime=${FUZZTIME:-10s}
targets=$(grep -rHo --include='*_test.go' --exclude-dir=node_modules --exclude-dir=.cache --exclude-dir=.git '^func Fuzz[A-Za-z0-9_]*' . | sed -E 's#^(.*)/[^/]*_test\.go:func (Fuzz[A-Za-z0-9_]*)$#\1 \2#' | sort)
[ -n "$targets" ] || { echo "no fuzz targets found" >&2; exit 1; }
# Go 1.26's fuzz coordinator can fail a target with a bare "context
# deadline exceeded" when -fuzztime ends while a starved worker is mid-call
# (golang/go#75804, fixed in Go 1.27). A real finding always writes its
# failing input; such a run without one is settled by replaying the
# target's corpus, which fails on anything reproducible.
while read -r dir name; do
  log=$(mktemp)
  if ! go test -run '^$' -fuzz "^$name\$" -fuzztime "$fuzztime" "$dir" 2>&1 | tee "$log"; then
    if grep -q 'context deadline exceeded' "$log" && ! grep -q 'Failing input written' "$log"; then
      echo "$dir $name: the fuzz coordinator's deadline race, no failing input; replaying the corpus"
      go test -count=1 -run "^$name\$" "$dir"
    else
      rm -f "$log"
      exit 1
    fi
  fi
  rm -f "$log"
done <<< "$targets"
echo "all tests passed"
