package dcmb

// This file holds a certified stream's module in the driver: the checks
// that refuse to start a stream whose module is not certified for its
// channel and purpose (or is not the certified bytes, imports what it may
// not, or fails on an empty batch), the check before each batch, and the
// run of the module on a spooled batch.

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/sealnet/sealnet/certify/manifest"
	"github.com/sealnet/sealnet/contract/certify"
	"github.com/sealnet/sealnet/dcmb/core"
	"github.com/sealnet/sealnet/dcmb/module"
	"github.com/sealnet/sealnet/sandbox"
	"github.com/sealnet/sealnet/txerr"
)

// ErrNotCertified reports a stream module the chain does not hold
// certified for the stream's channel and purpose.
var ErrNotCertified = errors.New("module not certified")

// certified asks the local replica whether the module with hash is
// certified for purpose during the next block, the first one an anchor
// could still land in.
func (r *Runtime) certified(purpose string, hash manifest.Hash) (*certify.Answer, error) {
	var a certify.Answer
	q := certify.CertifiedQuery{Channel: r.chain.Name(), Purpose: purpose, Module: hash.String(), Height: r.chain.Height() + 1}
	ok, err := r.chain.Query(certify.Name, "certified", q, &a)
	if err == nil && !ok {
		err = errors.New("the certify contract did not answer")
	}
	if err != nil {
		return nil, fmt.Errorf("asking certify: %w", err)
	}
	return &a, nil
}

// sandboxRuntime is the runtime's sandbox, made on first use.
func (r *Runtime) sandboxRuntime() (*sandbox.Runtime, error) {
	r.sbOnce.Do(func() { r.sb, r.sbErr = sandbox.New(context.Background(), sandbox.Config{}) })
	return r.sb, r.sbErr
}

// openModule loads the stream's module and checks, before the stream
// starts, everything that would make it run uncertified code: the file is
// the configured hash, the chain holds that hash certified for this
// channel and purpose in the next block, the module imports nothing its
// certification does not allow, it answers an empty batch within its
// limits, the outputs the configuration maps are declared, and the
// stream's record on chain is for the same purpose.
func (s *sender) openModule() error {
	mc := s.cfg.Module
	wasm, err := os.ReadFile(mc.File)
	if err != nil {
		return fmt.Errorf("module: %w", err)
	}
	hash, _ := manifest.HashModule(bytes.NewReader(wasm))
	if mc.Hash != "" {
		if want, _ := manifest.ParseHash(mc.Hash); want != hash {
			return fmt.Errorf("module %s: %w: the file is %s, the configuration names %s", mc.File, module.ErrHashMismatch, hash, want)
		}
	}
	ans, err := s.r.certified(mc.Purpose, hash)
	if err != nil {
		return err
	}
	if !ans.Certified {
		return fmt.Errorf("module %s (%s): %w for %s on channel %s: %s", mc.File, hash, ErrNotCertified, mc.Purpose, s.r.chain.Name(), ans.Reason)
	}
	var rec certify.Module
	if ok, err := s.r.chain.Query(certify.Name, "module", certify.ModuleQuery{Name: ans.Name, Version: ans.Version}, &rec); err != nil || !ok {
		return fmt.Errorf("reading the certification of %s@%d: %v", ans.Name, ans.Version, err)
	}
	d, err := descriptorOf(&rec)
	if err != nil {
		return err
	}
	rt, err := s.r.sandboxRuntime()
	if err != nil {
		return err
	}
	limits := sandbox.Limits{MemoryBytes: mc.MemoryBytes, WallTime: mc.TimeLimit.Duration}
	prog, err := module.Load(context.Background(), rt, wasm, d, limits)
	if err != nil {
		return err
	}
	for _, l := range mc.Labels {
		if !slices.Contains(prog.Outputs, l.Output) {
			return fmt.Errorf("module %s: label output %q is not among the outputs its certification declares (%s)", prog, l.Output, strings.Join(prog.Outputs, ", "))
		}
	}
	if _, _, err := prog.Process(context.Background(), 0, nil); err != nil {
		return fmt.Errorf("%w (on an empty batch)", err)
	}
	st, err := s.r.chain.Stream(s.cfg.Name)
	if err != nil {
		return err
	}
	if st != nil && st.Batches > 0 && st.Purpose != mc.Purpose {
		if st.Purpose == "" {
			return fmt.Errorf("stream %s was started uncertified: its anchors cannot name a module now (name a new stream)", s.cfg.Name)
		}
		return fmt.Errorf("stream %s is certified for purpose %s, not %s", s.cfg.Name, st.Purpose, mc.Purpose)
	}
	s.prog = prog
	s.log.Info("certified module loaded", "module", prog.String(), "purpose", mc.Purpose, "imports", len(prog.Imports),
		"certified", fmt.Sprintf("%s@%d", ans.Name, ans.Version))
	return nil
}

// checkUncertified refuses to start an uncertified stream whose record
// on chain fixed a purpose: the chain would refuse its anchors.
func (s *sender) checkUncertified() error {
	st, err := s.r.chain.Stream(s.cfg.Name)
	if err != nil {
		return err
	}
	if st != nil && st.Purpose != "" {
		return fmt.Errorf("stream %s is certified for purpose %s: configure its [stream.module]", s.cfg.Name, st.Purpose)
	}
	return nil
}

// descriptorOf is the descriptor a certification record holds.
func descriptorOf(m *certify.Module) (*manifest.Descriptor, error) {
	src, err1 := hex.DecodeString(m.Source)
	mod, err2 := hex.DecodeString(m.Module)
	if err := errors.Join(err1, err2); err != nil {
		return nil, fmt.Errorf("certification record of %s@%d: %w", m.Name, m.Version, err)
	}
	return &manifest.Descriptor{Name: m.Name, Version: m.Version, Source: src, Recipe: m.Recipe, Module: mod,
		Imports: m.Imports, Outputs: m.Outputs}, nil
}

// process answers a Process: the module is still certified for the next
// block, then it runs on the batch. false if ctx ended first.
func (s *sender) process(ctx context.Context, a core.Process) (core.Processed, bool) {
	ev := core.Processed{First: a.First}
	purpose := s.cfg.Module.Purpose
	var ans *certify.Answer
	for wait := 100 * time.Millisecond; ; wait = min(2*wait, 5*time.Second) {
		var err error
		if ans, err = s.r.certified(purpose, s.prog.Hash); err == nil {
			break
		}
		s.log.Error("cannot check the module's certification; the batch waits", "first_seq", a.First, "err", err)
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return ev, false
		}
	}
	if !ans.Certified {
		ev.Refused, ev.Halt = "module not certified: "+ans.Reason, true
		return ev, true
	}
	b := s.takeFresh(a.First)
	if b == nil {
		var err error
		if b, err = s.load(a.First); err != nil {
			ev.Refused = "spooled batch unreadable: " + err.Error()
			return ev, true
		}
	}
	outs, stderr, err := s.prog.Process(ctx, b.FirstSeq, b.Msgs)
	if ctx.Err() != nil {
		return ev, false
	}
	if err != nil {
		// stderr may carry input data: for the operator's debugging only
		s.log.Error("module refused a batch", "first_seq", a.First, "err", err, "stderr_bytes", len(stderr))
		s.log.Debug("module's standard error", "first_seq", a.First, "stderr", string(stderr))
		ev.Refused = fmt.Sprintf("module %s@%d: %s", s.prog.Name, s.prog.Version, category(err))
		return ev, true
	}
	ev.Outputs = make([]core.ModuleOutput, len(outs))
	for i, o := range outs {
		m := &b.Msgs[o.Index]
		ev.Outputs[i] = core.ModuleOutput{Seq: m.Seq, Key: m.Key, Name: o.Name, Text: o.Text}
	}
	return ev, true
}

// category is the kind of a module's failure, without its details.
func category(err error) string {
	for _, e := range []error{sandbox.ErrTrap, sandbox.ErrExit, sandbox.ErrTimeLimit, sandbox.ErrMemoryLimit, sandbox.ErrOutputLimit,
		module.ErrMalformed, module.ErrUndeclared} {
		if errors.Is(err, e) {
			return e.Error()
		}
	}
	return "failed"
}

// uncertified says why an anchor the chain refused was refused, if it is
// that the module is no longer certified.
func (s *sender) uncertified(err error) string {
	if s.prog == nil || txerr.CodeOf(err) != txerr.Rejected {
		return ""
	}
	ans, qerr := s.r.certified(s.cfg.Module.Purpose, s.prog.Hash)
	if qerr != nil || ans.Certified {
		return ""
	}
	return "module not certified: " + ans.Reason
}

// keepFresh holds a sealed batch of a certified stream for its module, so
// that it is not read back from the spool.
func (s *sender) keepFresh(b *Batch) {
	if s.prog == nil || b.Dropped != "" {
		return
	}
	s.mu.Lock()
	s.fresh[b.FirstSeq] = b
	s.mu.Unlock()
}

func (s *sender) takeFresh(first uint64) *Batch {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.fresh[first]
	delete(s.fresh, first)
	return b
}

// moduleConfig is the core's view of the stream's module.
func (s *sender) moduleConfig() *core.ModuleConfig {
	if s.prog == nil {
		return nil
	}
	return &core.ModuleConfig{Hash: s.prog.Hash[:], Purpose: s.cfg.Module.Purpose, Labels: s.cfg.Module.Labels}
}
