// Package certifier is what a certifier does off chain to examine a
// proposed module (paper 000, 3.3): rebuild it from its source with the
// recipe its proposal records and compare hashes, validate it against the
// certifier's own test set (dcmb/module), and form the vote that reports
// both, each outcome apart. It is also what a proposer uses to describe a
// module built with sealnet's recipe.
package certifier

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/sealnet/sealnet/certify/manifest"
	"github.com/sealnet/sealnet/internal/wasmbuild"
	"github.com/sealnet/sealnet/sandbox"
)

// Errors of a build. ErrToolchain and ErrSource are the certifier's to
// fix (they say nothing of the module); ErrRecipe and ErrBuild are
// findings: the module does not build.
var (
	// ErrToolchain: the recipe names another Go release than this
	// machine's go command.
	ErrToolchain = errors.New("toolchain differs")
	// ErrSource: the source tree is not the one the proposal names.
	ErrSource = errors.New("source tree differs")
	// ErrRecipe: the recipe sets something a build must not (a recipe is
	// the proposer's input: -toolexec or an overlay would run or swap in
	// code of its choosing on the certifier's machine).
	ErrRecipe = errors.New("recipe refused")
	// ErrBuild: go build failed with the recipe.
	ErrBuild = errors.New("build failed")
)

// Toolchain is the Go release of the go command on PATH, as a recipe
// names it ("go1.26.8").
func Toolchain(ctx context.Context) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "env", "GOVERSION").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOVERSION: %w", err)
	}
	return strings.TrimSpace(string(out)), nil
}

// Recipe is sealnet's reproducible recipe (internal/wasmbuild) for the
// main package pkg of a source tree, with this machine's Go release.
func Recipe(ctx context.Context, pkg string) (manifest.Recipe, error) {
	tc, err := Toolchain(ctx)
	if err != nil {
		return manifest.Recipe{}, err
	}
	return manifest.Recipe{Toolchain: tc, Package: pkg, Env: wasmbuild.Env(), Flags: wasmbuild.Flags()}, nil
}

// Settings a recipe may make, and nothing else.
var (
	envRules = map[string]*regexp.Regexp{
		"GOOS":         regexp.MustCompile(`^wasip1$`),
		"GOARCH":       regexp.MustCompile(`^wasm$`),
		"CGO_ENABLED":  regexp.MustCompile(`^0$`),
		"GOFLAGS":      regexp.MustCompile(`^$`),
		"GOWASM":       regexp.MustCompile(`^[a-z0-9,]*$`),
		"GOEXPERIMENT": regexp.MustCompile(`^[a-z0-9,]*$`),
		"GOTOOLCHAIN":  regexp.MustCompile(`^local$`),
	}
	flagRules = []*regexp.Regexp{
		regexp.MustCompile(`^-trimpath$`),
		regexp.MustCompile(`^-buildvcs=false$`),
		regexp.MustCompile(`^-ldflags=(-s|-w|-buildid=)( (-s|-w|-buildid=))*$`),
		regexp.MustCompile(`^-tags=[A-Za-z0-9_.,]+$`),
	}
	pkgRule = regexp.MustCompile(`^\./[A-Za-z0-9_./-]*$`)
)

// CheckRecipe refuses a recipe that sets anything but what a
// reproducible WASI build needs.
func CheckRecipe(r manifest.Recipe) error {
	if r.Package != "." && (!pkgRule.MatchString(r.Package) || strings.Contains(r.Package, "..")) {
		return fmt.Errorf("%w: package %q: want ./DIR inside the source tree", ErrRecipe, r.Package)
	}
	seen := map[string]bool{}
	for _, e := range r.Env {
		k, v, _ := strings.Cut(e, "=")
		rule, ok := envRules[k]
		if !ok || seen[k] || !rule.MatchString(v) {
			return fmt.Errorf("%w: environment %q is not a setting a WASI module's build takes", ErrRecipe, e)
		}
		seen[k] = true
	}
	for _, k := range []string{"GOOS", "GOARCH", "CGO_ENABLED"} {
		if !seen[k] {
			return fmt.Errorf("%w: the environment must set %s", ErrRecipe, k)
		}
	}
	for _, f := range r.Flags {
		ok := false
		for _, rule := range flagRules {
			ok = ok || rule.MatchString(f)
		}
		if !ok {
			return fmt.Errorf("%w: build flag %q is not one a reproducible build takes (-trimpath, -buildvcs=false, -ldflags of -s -w -buildid=, -tags)", ErrRecipe, f)
		}
	}
	return nil
}

// Build builds the module of the source tree src with recipe r into out
// and returns its hash. Only the recipe's settings are used: the caller's
// GOFLAGS and the like are cleared, the module proxy is off (a module
// source tree brings what it needs), and the toolchain must be the
// recipe's.
func Build(ctx context.Context, src string, r manifest.Recipe, out string) (manifest.Hash, error) {
	if err := CheckRecipe(r); err != nil {
		return manifest.Hash{}, err
	}
	tc, err := Toolchain(ctx)
	if err != nil {
		return manifest.Hash{}, err
	}
	if tc != r.Toolchain {
		return manifest.Hash{}, fmt.Errorf("%w: the recipe needs %s, this machine's go is %s", ErrToolchain, r.Toolchain, tc)
	}
	out, err = filepath.Abs(out)
	if err != nil {
		return manifest.Hash{}, err
	}
	args := append(append([]string{"build"}, r.Flags...), "-o", out, r.Package)
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = src
	env := []string{"GOFLAGS=", "GOWASM=", "GOEXPERIMENT=", "GOTOOLCHAIN=local", "GOPROXY=off", "GOWORK=off", "GONOSUMDB=", "GOINSECURE="}
	cmd.Env = append(append(os.Environ(), env...), r.Env...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return manifest.Hash{}, ctx.Err()
		}
		return manifest.Hash{}, fmt.Errorf("%w: go build %s: %v: %s", ErrBuild, r.Package, err, bytes.TrimSpace(stderr.Bytes()))
	}
	f, err := os.Open(out)
	if err != nil {
		return manifest.Hash{}, err
	}
	defer f.Close()
	return manifest.HashModule(f)
}

// Describe builds the main package pkg of the source tree src with
// sealnet's recipe into dir and fills in what the build determines of d:
// the source hash, the recipe, the module hash and the host functions the
// module imports. The caller names the module, numbers its version and
// declares its outputs. It returns the module's bytes.
func Describe(ctx context.Context, rt *sandbox.Runtime, src, pkg, dir string, d *manifest.Descriptor) ([]byte, error) {
	sh, err := manifest.HashSource(os.DirFS(src))
	if err != nil {
		return nil, fmt.Errorf("hashing the source tree %s: %w", src, err)
	}
	r, err := Recipe(ctx, pkg)
	if err != nil {
		return nil, err
	}
	out := filepath.Join(dir, "module.wasm")
	h, err := Build(ctx, src, r, out)
	if err != nil {
		return nil, err
	}
	wasm, err := os.ReadFile(out)
	if err != nil {
		return nil, err
	}
	m, err := rt.Compile(ctx, wasm, sandbox.Hash(h))
	if err != nil {
		return nil, err
	}
	imports := m.Imports()
	slices.Sort(imports)
	d.Source, d.Recipe, d.Module, d.Imports = sh[:], r, h[:], slices.Compact(imports)
	return wasm, nil
}
