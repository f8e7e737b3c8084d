#!/usr/bin/env bash
# Runs every sealnet test: installs what the tests need, checks formatting and
# vet, runs the unit, integration and multi-process tests, then a short fuzz
# pass over each decoder of untrusted bytes.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== go vet and gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$unformatted" ]; then
  echo "gofmt would change: $unformatted" >&2
  exit 1
fi
go vet ./...

echo "== tests"
go test -count=1 -timeout 20m ./...

echo "== fuzz (short pass per target)"
fuzztime=${FUZZTIME:-10s}
for target in \
  "./envelope FuzzDecode" \
  "./ledger FuzzCheckTx" \
  "./canon FuzzUnmarshal" \
  "./identity FuzzVerify" \
  "./identity FuzzParseMember"; do
  set -- $target
  go test -run '^$' -fuzz "^$2\$" -fuzztime "$fuzztime" "$1"
done
echo "all tests passed"
