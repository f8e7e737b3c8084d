// Package programs holds example compute job programs, each a Go main
// package in its own directory, built into WASI preview 1 modules:
//
//	stats    count, min, max, mean, standard deviation of time series
//	anomaly  readings far outside their recent window, per series
//
// Both read every file of /in as one series of "time,value" lines and
// write text to stdout, in fixed-point integers only, so every worker gets
// the same bytes. Their code lives in internal/analytics and also runs
// natively, which is what the tests compare against and the benchmarks
// measure the sandbox against.
//
// Build them reproducibly with scripts/build-programs.sh (or
// internal/wasmbuild): GOOS=wasip1 GOARCH=wasm CGO_ENABLED=0, GOFLAGS
// cleared, go build -trimpath -buildvcs=false -ldflags="-s -w -buildid=".
// The same source and Go release give the same module bytes, so a
// requester can name a program by its SHA-256 and anyone can rebuild it to
// check. Then store the module with "sealnet data put" and post the job
// with its CID and SHA-256.
package programs

// Names lists the example programs (directories of this package).
var Names = []string{"stats", "anomaly"}
