// Package wasmbuild builds Go main packages into WASI preview 1 modules
// with sealnet's reproducible recipe: the same source and Go release give
// the same module bytes in any directory, with any build cache, on any
// host. scripts/build-programs.sh is the same recipe for people.
package wasmbuild

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
)

// Env is the environment of a build: everything that changes the output
// is set, so nothing is taken from the caller's environment (GOFLAGS in
// particular).
func Env() []string {
	return []string{
		"GOOS=wasip1",
		"GOARCH=wasm",
		"CGO_ENABLED=0",
		"GOFLAGS=",
		"GOWASM=",
		"GOEXPERIMENT=",
		"GOTOOLCHAIN=local",
	}
}

// Flags are the go build flags of the recipe: no paths (-trimpath), no
// version-control stamp (-buildvcs=false), no symbol table, DWARF or build
// ID (-ldflags).
func Flags() []string {
	return []string{"-trimpath", "-buildvcs=false", "-ldflags=-s -w -buildid="}
}

// Build compiles the package pkg (a path relative to the module root, like
// "./compute/programs/stats") of the module at root into out and returns
// the module's SHA-256.
func Build(ctx context.Context, root, pkg, out string) ([32]byte, error) {
	args := append(append([]string{"build"}, Flags()...), "-o", out, pkg)
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), Env()...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return [32]byte{}, fmt.Errorf("go build %s: %v: %s", pkg, err, bytes.TrimSpace(stderr.Bytes()))
	}
	b, err := os.ReadFile(out)
	if err != nil {
		return [32]byte{}, err
	}
	return sha256.Sum256(b), nil
}

// ModuleRoot finds the directory holding go.mod from dir upwards.
func ModuleRoot(dir string) (string, error) {
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		up := filepath.Dir(dir)
		if up == dir {
			return "", errors.New("no go.mod above " + dir)
		}
		dir = up
	}
}

// Cache builds each package once per process (for tests: one build per
// package run, shared by its tests).
type Cache struct {
	Dir string // where modules are written

	mu    sync.Mutex
	built map[string]*entry
}

type entry struct {
	once sync.Once
	wasm []byte
	err  error
}

// Get returns the module built from pkg.
func (c *Cache) Get(ctx context.Context, pkg string) ([]byte, error) {
	c.mu.Lock()
	if c.built == nil {
		c.built = map[string]*entry{}
	}
	e, ok := c.built[pkg]
	if !ok {
		e = &entry{}
		c.built[pkg] = e
	}
	c.mu.Unlock()
	e.once.Do(func() {
		wd, err := os.Getwd()
		if err != nil {
			e.err = err
			return
		}
		root, err := ModuleRoot(wd)
		if err != nil {
			e.err = err
			return
		}
		out := filepath.Join(c.Dir, fmt.Sprintf("m%x.wasm", sha256.Sum256([]byte(pkg))))
		if _, e.err = Build(ctx, root, pkg, out); e.err == nil {
			e.wasm, e.err = os.ReadFile(out)
		}
	})
	return e.wasm, e.err
}
