package certifier

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/sealnet/sealnet/certify/manifest"
	"github.com/sealnet/sealnet/contract/certify"
	"github.com/sealnet/sealnet/dcmb/module"
	"github.com/sealnet/sealnet/sandbox"
)

// ProposalOf returns the proposal a module record of the certify
// contract holds, as it was proposed.
func ProposalOf(m *certify.Module) (*manifest.Proposal, error) {
	src, err1 := hex.DecodeString(m.Source)
	mod, err2 := hex.DecodeString(m.Module)
	if err := errors.Join(err1, err2); err != nil {
		return nil, fmt.Errorf("module record %s@%d: %w", m.Name, m.Version, err)
	}
	p := &manifest.Proposal{Descriptor: manifest.Descriptor{Name: m.Name, Version: m.Version, Source: src, Recipe: m.Recipe,
		Module: mod, Imports: m.Imports, Outputs: m.Outputs}, Channel: m.Channel, Purpose: m.Purpose}
	if p.ID().String() != m.ID {
		return nil, fmt.Errorf("module record %s@%d does not hash to its proposal ID %s", m.Name, m.Version, m.ID)
	}
	return p, nil
}

// Rebuilt is a certifier's build of a proposed module.
type Rebuilt struct {
	Build  string        // manifest.BuildReproduced, BuildDiffers or BuildFails
	Hash   manifest.Hash // of the rebuilt module, unless the build failed
	Reason string        // why the build failed
	Wasm   []byte        // the rebuilt module
}

// Rebuild checks that the source tree src is the one proposed and builds
// it with the proposal's recipe in dir. A build that is refused or fails
// is a finding (BuildFails); another toolchain or source tree is an
// error, since it says nothing of the module.
func Rebuild(ctx context.Context, src string, p *manifest.Proposal, dir string) (*Rebuilt, error) {
	sh, err := manifest.HashSource(os.DirFS(src))
	if err != nil {
		return nil, fmt.Errorf("hashing the source tree %s: %w", src, err)
	}
	if !bytes.Equal(sh[:], p.Source) {
		return nil, fmt.Errorf("%w: %s hashes to %s, the proposal names %x: get the proposed source (the tree alone, no build outputs or version-control files)", ErrSource, src, sh, p.Source)
	}
	out := filepath.Join(dir, fmt.Sprintf("%s-%d.wasm", p.Name, p.Version))
	h, err := Build(ctx, src, p.Recipe, out)
	switch {
	case errors.Is(err, ErrRecipe) || errors.Is(err, ErrBuild):
		return &Rebuilt{Build: manifest.BuildFails, Reason: err.Error()}, nil
	case err != nil:
		return nil, err
	}
	wasm, err := os.ReadFile(out)
	if err != nil {
		return nil, err
	}
	r := &Rebuilt{Build: manifest.BuildReproduced, Hash: h, Wasm: wasm}
	if !bytes.Equal(h[:], p.Module) {
		r.Build = manifest.BuildDiffers
	}
	return r, nil
}

// Examination is a certifier's finding on a proposal and the vote that
// reports it.
type Examination struct {
	Rebuilt    *Rebuilt
	Validation *module.Validation // nil unless the build reproduced the module
	Vote       manifest.Vote
}

// TestSet is a certifier's validation test set.
type TestSet struct {
	Cases      []module.Case
	Leaves     []manifest.TestCase
	Secret     manifest.TestSecret
	RawAllowed []string // outputs the certifier judged may carry input values
}

// Examine rebuilds a proposed module from src and, if the build reproduced
// it, validates it against the test set; the vote says what was found. A
// module that imports what its descriptor does not allow fails its
// validation with that reason in the log.
func Examine(ctx context.Context, rt *sandbox.Runtime, p *manifest.Proposal, src, dir string, ts *TestSet, limits sandbox.Limits, note string) (*Examination, error) {
	rb, err := Rebuild(ctx, src, p, dir)
	if err != nil {
		return nil, err
	}
	x := &Examination{Rebuilt: rb}
	id := p.ID()
	x.Vote = manifest.Vote{Channel: p.Channel, Proposal: id[:], Name: p.Name, Version: p.Version, Build: rb.Build, Note: note}
	if rb.Build != manifest.BuildFails {
		x.Vote.Rebuilt = rb.Hash[:]
	}
	if rb.Build != manifest.BuildReproduced {
		return x, nil
	}
	prog, err := module.Load(ctx, rt, rb.Wasm, &p.Descriptor, limits)
	if err != nil {
		if !errors.Is(err, module.ErrImport) {
			return nil, err
		}
		x.Validation, err = refusedValidation(p, ts, err)
	} else {
		x.Validation, err = module.Validate(ctx, prog, ts.Cases, ts.Leaves, ts.Secret, ts.RawAllowed)
	}
	if err != nil {
		return nil, err
	}
	v := x.Validation
	x.Vote.Validation = manifest.ValidationFailed
	if v.Passed {
		x.Vote.Validation = manifest.ValidationPassed
	}
	x.Vote.Log, x.Vote.Tests = v.LogHash[:], v.Tests[:]
	return x, nil
}

// refusedValidation is the validation of a module refused before it ran.
func refusedValidation(p *manifest.Proposal, ts *TestSet, why error) (*module.Validation, error) {
	commit, err := manifest.CommitTests(ts.Secret, ts.Leaves)
	if err != nil {
		return nil, err
	}
	log := fmt.Appendf(nil, "sealnet module validation 1\nmodule %s@%d sha256 %x\nrefused before running: %v\nresult: %s, 0 of %d cases run\n",
		p.Name, p.Version, p.Module, why, manifest.ValidationFailed, len(ts.Cases))
	h, _ := manifest.HashLog(bytes.NewReader(log))
	return &module.Validation{Failed: len(ts.Cases), Log: log, LogHash: h, Tests: commit}, nil
}
