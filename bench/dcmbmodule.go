package bench

// This file holds what the DCMB benchmark's certified runs need: the
// maintenance module built from its source with sealnet's recipe,
// certified on the benchmark's consortium, and its own cost per batch.

import (
	"context"
	"crypto/sha256"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/sealnet/sealnet/apiclient"
	"github.com/sealnet/sealnet/certify/certifier"
	"github.com/sealnet/sealnet/certify/manifest"
	"github.com/sealnet/sealnet/contract/certify"
	"github.com/sealnet/sealnet/dcmb"
	"github.com/sealnet/sealnet/dcmb/module"
	"github.com/sealnet/sealnet/dcmb/modules"
	"github.com/sealnet/sealnet/dcmb/wire"
	"github.com/sealnet/sealnet/identity"
	"github.com/sealnet/sealnet/local"
	"github.com/sealnet/sealnet/sandbox"
)

// certifiedModule builds the maintenance module, has the consortium
// certify it for the purpose "maintenance" (the maker's org the one
// certifier) and returns the stream configuration that runs it.
func certifiedModule(ctx context.Context, dir string, owner, maker *local.Org) (*dcmb.ModuleConfig, []byte, error) {
	if _, err := exec.LookPath("go"); err != nil {
		return nil, nil, fmt.Errorf("building the module needs the go command: %w", err)
	}
	src := filepath.Join(dir, "module-src")
	if err := modules.WriteSource(src); err != nil {
		return nil, nil, err
	}
	rt, err := sandbox.New(ctx, sandbox.Config{})
	if err != nil {
		return nil, nil, err
	}
	defer rt.Close(context.Background())
	p := &manifest.Proposal{Descriptor: manifest.Descriptor{Name: "maintenance", Version: 1, Outputs: []string{"maintenance"}},
		Channel: "default", Purpose: "maintenance"}
	wasm, err := certifier.Describe(ctx, rt, src, modules.Maintenance, dir, &p.Descriptor)
	if err != nil {
		return nil, nil, err
	}
	cert, _, err := maker.Enroll(ctx, "certifier", identity.RoleCertifier)
	if err != nil {
		return nil, nil, err
	}
	pol := certify.Policy{Epoch: 1, Certifiers: []string{maker.Name}, Threshold: 1, Suspend: 1, VoteBlocks: 1000, ValidBlocks: 1_000_000}
	for _, o := range []*local.Org{owner, maker} {
		if _, err := o.Call(ctx, o.Admin, certify.Name, "set_policy", pol); err != nil {
			return nil, nil, err
		}
	}
	if _, err := owner.Call(ctx, owner.Admin, certify.Name, "propose", p); err != nil {
		return nil, nil, err
	}
	id := p.ID()
	log, tests := sha256.Sum256([]byte("benchmark")), sha256.Sum256([]byte("benchmark tests"))
	v := manifest.Vote{Channel: "default", Proposal: id[:], Name: p.Name, Version: p.Version, Build: manifest.BuildReproduced,
		Rebuilt: p.Module, Validation: manifest.ValidationPassed, Log: log[:], Tests: tests[:]}
	if _, err := maker.Call(ctx, cert, certify.Name, "vote", v); err != nil {
		return nil, nil, err
	}
	// the owner's node starts the stream: wait until it applied the vote
	for deadline := time.Now().Add(10 * time.Second); ; {
		m, err := apiclient.Query[certify.Module](ctx, owner.API, "default", certify.Name, "module", certify.ModuleQuery{Name: p.Name, Version: p.Version})
		if err == nil && m.State == certify.StateCertified {
			break
		}
		if time.Now().After(deadline) {
			return nil, nil, fmt.Errorf("the module is not certified on the owner's node: %+v %v", m.State, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	file := filepath.Join(dir, "maintenance.wasm")
	if err := os.WriteFile(file, wasm, 0o644); err != nil {
		return nil, nil, err
	}
	return &dcmb.ModuleConfig{File: file, Purpose: "maintenance"}, wasm, nil
}

// moduleCost measures one run of the module on n messages of size bytes
// (a fresh instance, as the DCMB runs it per batch), and on none.
func (res *DCMBResult) moduleCost(ctx context.Context, wasm []byte, n, size int) error {
	rt, err := sandbox.New(ctx, sandbox.Config{})
	if err != nil {
		return err
	}
	defer rt.Close(context.Background())
	h := sha256.Sum256(wasm)
	m, err := rt.Compile(ctx, wasm, sandbox.Hash(h))
	if err != nil {
		return err
	}
	d := &manifest.Descriptor{Name: "maintenance", Version: 1, Module: h[:], Imports: m.Imports(), Outputs: []string{"maintenance"}}
	p, err := module.Load(ctx, rt, wasm, d, sandbox.Limits{})
	if err != nil {
		return err
	}
	g := newGenerator(0, 0, size)
	msgs := make([]wire.Message, n)
	for i := range msgs {
		msgs[i] = wire.Message{Seq: uint64(i), Key: "m", Value: g.pool[i%len(g.pool)]}
	}
	best := func(msgs []wire.Message) (time.Duration, error) {
		var b time.Duration
		for range 3 {
			t := time.Now()
			if _, _, err := p.Process(ctx, 0, msgs); err != nil {
				return 0, err
			}
			if d := time.Since(t); b == 0 || d < b {
				b = d
			}
		}
		return b, nil
	}
	empty, err := best(nil)
	if err != nil {
		return err
	}
	full, err := best(msgs)
	if err != nil {
		return err
	}
	res.ModuleInstanceMs, res.ModuleBatchMs, res.ModuleBatch = ms(empty), ms(full), n
	return nil
}
