package demo

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/sealnet/sealnet/apiclient"
	"github.com/sealnet/sealnet/certify/certifier"
	"github.com/sealnet/sealnet/certify/manifest"
	"github.com/sealnet/sealnet/contract/audit"
	"github.com/sealnet/sealnet/contract/certify"
	"github.com/sealnet/sealnet/contract/condition"
	"github.com/sealnet/sealnet/dcmb"
	"github.com/sealnet/sealnet/dcmb/bundle"
	"github.com/sealnet/sealnet/dcmb/machine"
	"github.com/sealnet/sealnet/dcmb/module"
	"github.com/sealnet/sealnet/dcmb/modules"
	"github.com/sealnet/sealnet/identity"
	"github.com/sealnet/sealnet/local"
	"github.com/sealnet/sealnet/sandbox"
)

// Each certifier validates against a test set of its own.
var certifierTests = []string{
	`{"name": "the paper's counter", "in": [{"key": "press-7", "value": "5367"}], "want": [{"index": 0, "output": "maintenance", "text": "Maintenance imminent"}]}
{"name": "the range's bounds", "in": [{"key": "press-7", "value": "5300"}, {"key": "press-7", "value": "5400"}], "want": []}
{"name": "once per batch", "in": [{"key": "press-7", "value": "5301"}, {"key": "press-7", "value": "5302"}], "want": [{"index": 0, "output": "maintenance", "text": "Maintenance imminent"}]}
`,
	`{"name": "a shift", "in": [{"key": "a", "value": "5290"}, {"key": "a", "value": "5333"}, {"key": "b", "value": "5398"}], "want": [{"index": 1, "output": "maintenance", "text": "Maintenance imminent"}, {"index": 2, "output": "maintenance", "text": "Maintenance imminent"}]}
{"name": "not counters", "in": [{"key": "a", "value": "warm"}, {"key": "a", "value": "5350.5"}, {"key": "a", "value": ""}]}
`,
}

// Certify runs paper 000's module certification (section 3.3) on a
// four-company consortium: two certifier orgs rebuild the maintenance
// mapping of section 5 as a WebAssembly module from its source, validate
// it against test sets of their own and certify it; the owner's stream
// runs it, each anchor naming it; a revised module that leaks the raw
// counter in its label is refused by a certifier's validation; an offline
// audit shows which certified module produced the evidence; a certifier
// then suspends the module, and the running stream stops at its next
// batch.
func Certify(ctx context.Context, w io.Writer) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	out := &lockedWriter{w: w}
	p := func(format string, args ...any) { out.Write(fmt.Appendf(nil, format+"\n", args...)) }
	dir, err := os.MkdirTemp("", "sealnet-demo-certify-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)

	p("starting a consortium of four companies (a node and a validator each, one channel, CometBFT + libp2p)...")
	// the module labels every batch while the counter is in range, as the
	// paper's Algorithm 4 does every interval: its first submission shows
	lines := &dcmbLines{out: out, once: []string{`msg="hashed label submitted"`}}
	log := slog.New(slog.NewTextHandler(lines, &slog.HandlerOptions{Level: slog.LevelInfo}))
	c, err := local.Start(filepath.Join(dir, "net"), 4, log)
	if err != nil {
		return err
	}
	defer c.Close()
	owner, maker, certOrgs := c.Orgs[0], c.Orgs[1], c.Orgs[2:]
	p("    %s: owner of the press   %s: its manufacturer   %s, %s: certifiers (the Module Certification Authority)", owner.Name, maker.Name, certOrgs[0].Name, certOrgs[1].Name)

	p("\n[1] each certifier org enrolls a certifier; the org admins adopt the channel's certification policy")
	certs := map[*local.Org]*identity.Identity{}
	for _, o := range certOrgs {
		if certs[o], _, err = o.Enroll(ctx, "certifier", identity.RoleCertifier); err != nil {
			return err
		}
		p("    %s/certifier: role certifier, certificate %s", o.Name, certs[o].Member.Fingerprint.String()[:16])
	}
	pol := certify.Policy{Epoch: 1, Certifiers: []string{certOrgs[0].Name, certOrgs[1].Name}, Threshold: 2, Suspend: 1, VoteBlocks: 1000, ValidBlocks: 1_000_000}
	for _, o := range c.Orgs[:3] {
		r, err := o.Call(ctx, o.Admin, certify.Name, "set_policy", pol)
		if err != nil {
			return err
		}
		p("    %s's admin votes for it (block %d)", o.Name, r.Height)
	}
	p("    adopted: certifiers %s, certified by 2 approving orgs, suspended by 1, certifications valid for %d blocks", strings.Join(pol.Certifiers, " and "), pol.ValidBlocks)

	rt, err := sandbox.New(ctx, sandbox.Config{})
	if err != nil {
		return err
	}
	defer rt.Close(context.Background())
	p("\n[2] %s proposes the maintenance mapping as a module: Go for WASI, built with the reproducible recipe", owner.Name)
	src := filepath.Join(dir, "source-v1")
	if err := modules.WriteSource(src); err != nil {
		return err
	}
	v1, wasm, err := propose(ctx, rt, owner, src, 1, dir)
	if err != nil {
		return err
	}
	p("    maintenance@1 for purpose %q: module %x (%d bytes), source tree %x", v1.Purpose, v1.Module, len(wasm), v1.Source)
	p("    recipe %s %s %s %s; %d WASI imports (no sockets), output %q", v1.Recipe.Toolchain, v1.Recipe.Package, strings.Join(v1.Recipe.Env[:3], " "),
		strings.Join(v1.Recipe.Flags, " "), len(v1.Imports), v1.Outputs[0])

	p("\n[3] each certifier rebuilds it from the source, compares hashes, validates it against its own test set and votes")
	for i, o := range certOrgs {
		x, r, err := examine(ctx, rt, o, certs[o], v1, src, certifierTests[i], dir)
		if err != nil {
			return err
		}
		p("    %s: build %s (%x), validation %s on %d cases (log sha256 %s…, test-set commitment %s…): %q, tx at height %d",
			o.Name, x.Vote.Build, x.Vote.Rebuilt[:8], x.Vote.Validation, strings.Count(certifierTests[i], "\n"), x.Validation.LogHash.String()[:16],
			x.Validation.Tests.String()[:16], x.Vote.Verdict(), r.Height)
	}
	status, err := moduleState(ctx, owner, "maintenance", 1, certify.StateCertified)
	if err != nil {
		return fmt.Errorf("step 3: %w", err)
	}
	p("    maintenance@1 is certified from block %d: %s", status.Certified+1, status.History[len(status.History)-1].Reason)

	p("\n[4] the manufacturer registers its hashed condition; the DCMBs start, the owner's stream with the certified module")
	saltRaw := make([]byte, 12)
	rand.Read(saltRaw)
	salt := hex.EncodeToString(saltRaw)
	if _, err := maker.Call(ctx, maker.Admin, condition.Name, "register", condition.RegisterArgs{ID: condID,
		Hash: condition.Hash(label, []byte(salt)), Importance: "high", Sender: owner.Name}); err != nil {
		return err
	}
	notified := make(chan string, 64)
	hook, err := webhookServer(notified)
	if err != nil {
		return err
	}
	defer hook.Close()
	m, err := machine.Start(0, 5290)
	if err != nil {
		return err
	}
	defer m.Close()
	file := filepath.Join(dir, "maintenance-1.wasm")
	if err := os.WriteFile(file, wasm, 0o644); err != nil {
		return err
	}
	const stream = "press-7-certified"
	makerCfg := &dcmb.Config{Receive: []dcmb.ReceiveConfig{{Stream: stream, From: owner.Name}},
		Notify: dcmb.NotifyConfig{Webhook: "http://" + hook.Addr + "/events"}}
	ownerCfg := &dcmb.Config{Streams: []dcmb.StreamConfig{{Name: stream, Receiver: maker.Name, Interval: dcmb.Duration{Duration: 500 * time.Millisecond},
		Source: dcmb.SourceConfig{Kind: "opcua", Endpoint: m.Endpoint(), Nodes: []string{m.NodeID()}, Security: "None", Sampling: dcmb.Duration{Duration: 25 * time.Millisecond}},
		Module: &dcmb.ModuleConfig{File: file, Purpose: "maintenance", Hash: hex.EncodeToString(v1.Module),
			Labels: []dcmb.LabelMap{{Output: "maintenance", Condition: condID, LabelSalt: salt}}}}}}
	p("    [stream.module] file = %q, purpose = \"maintenance\", hash = \"%x…\"; output \"maintenance\" is the label of condition %s", filepath.Base(file), v1.Module[:8], condID)
	recv, err := maker.Daemon.StartDCMB(makerCfg, nil)
	if err != nil {
		return err
	}
	defer recv.Stop()
	send, err := owner.Daemon.StartDCMB(ownerCfg, nil)
	if err != nil {
		return err
	}
	defer send.Stop()
	go func() {
		v := uint32(5290)
		t := time.NewTicker(50 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				v++
				m.Set(v)
			case <-ctx.Done():
				return
			}
		}
	}()

	p("\n[5] the counter crosses 5300: the module's label, hashed with the salt, meets the manufacturer's condition")
	select {
	case ev := <-notified:
		p("    %s's webhook: %s", maker.Name, ev)
	case <-time.After(time.Minute):
		return errors.New("step 5: the manufacturer was not notified within a minute")
	case <-ctx.Done():
		return ctx.Err()
	}
	var seen []audit.Batch
	if err := waitUntil(ctx, time.Minute, func() bool {
		seen, _ = apiclient.Query[[]audit.Batch](ctx, owner.API, "default", audit.Name, "batches", map[string]string{"stream": stream})
		return len(seen) >= 3
	}); err != nil {
		return fmt.Errorf("step 5: %w", err)
	}
	for _, b := range seen[:3] {
		p("    anchored: messages %d-%d in block %d, module %.16s…", b.FirstSeq, b.FirstSeq+b.Count-1, b.Height, b.Module)
	}

	p("\n[6] %s revises the module: maintenance@2 puts the raw counter into its label", owner.Name)
	src2 := filepath.Join(dir, "source-v2")
	if err := modules.WriteSource(src2); err != nil {
		return err
	}
	mainGo := filepath.Join(src2, "maintenance", "main.go")
	b, _ := os.ReadFile(mainGo)
	revised := bytes.Replace(b, []byte("b.Emit(output, label)"), []byte(`b.Emit(output, label+" (count "+string(m.Value)+")")`), 1)
	if err := os.WriteFile(mainGo, revised, 0o644); err != nil {
		return err
	}
	v2, _, err := propose(ctx, rt, owner, src2, 2, dir)
	if err != nil {
		return err
	}
	p("    proposed maintenance@2: module %x", v2.Module)
	x, r, err := examine(ctx, rt, certOrgs[0], certs[certOrgs[0]], v2, src2, certifierTests[0], dir)
	if err != nil {
		return err
	}
	for _, l := range strings.Split(string(x.Validation.Log), "\n") {
		if strings.Contains(l, "FAILED") {
			p("    %s's validation log: %s", certOrgs[0].Name, l)
		}
	}
	p("    %s votes %q (build %s, validation %s) at height %d", certOrgs[0].Name, x.Vote.Verdict(), x.Vote.Build, x.Vote.Validation, r.Height)
	st2, err := moduleState(ctx, owner, "maintenance", 2, certify.StateRejected)
	if err != nil {
		return fmt.Errorf("step 6: %w", err)
	}
	p("    maintenance@2 is rejected: %s", st2.History[len(st2.History)-1].Reason)

	p("\n[7] an auditor checks a message offline, from the owner's export and the channel's genesis alone")
	first := seen[len(seen)-1].FirstSeq
	raw, err := owner.API.AuditBundle(ctx, "default", stream, first)
	if err != nil {
		return fmt.Errorf("step 7: %w", err)
	}
	g, err := bundle.LoadGenesis(filepath.Join(owner.Home.Chain(owner.Node.Config().Channels[0], "").Home, "config", "genesis.json"))
	if err != nil {
		return err
	}
	rep, err := verifyRaw(raw, g)
	if err != nil {
		return fmt.Errorf("step 7: the exported bundle does not verify: %w", err)
	}
	p("    sealnet audit export --stream %s --seq %d: %d bytes, version %d", stream, first, len(raw), bundle.VersionCertified)
	for _, s := range rep.Steps[3:] {
		p("    ✓ %s", s)
	}

	p("\n[8] %s's certifier suspends maintenance@1; the running stream stops at its next batch", certOrgs[1].Name)
	rev, err := certOrgs[1].Call(ctx, certs[certOrgs[1]], certify.Name, "revoke",
		certify.RevokeArgs{Name: "maintenance", Version: 1, Module: v1.Module, Reason: "suspected leak, under review"})
	if err != nil {
		return err
	}
	p("    revocation vote in block %d: suspended (1 of the 2 needed to revoke suspends), in force from block %d", rev.Height, rev.Height+1)
	var dropped audit.Batch
	if err := waitUntil(ctx, time.Minute, func() bool {
		bs, _ := apiclient.Query[[]audit.Batch](ctx, owner.API, "default", audit.Name, "batches", map[string]string{"stream": stream})
		for _, b := range bs {
			if b.Dropped != "" {
				dropped = b
				return true
			}
		}
		return false
	}); err != nil {
		return fmt.Errorf("step 8: no batch recorded as dropped: %w", err)
	}
	p("    messages %d-%d recorded as dropped in block %d: %q", dropped.FirstSeq, dropped.FirstSeq+dropped.Count-1, dropped.Height, dropped.Dropped)
	time.Sleep(time.Second)
	bs, _ := apiclient.Query[[]audit.Batch](ctx, owner.API, "default", audit.Name, "batches", map[string]string{"stream": stream})
	lastAnchor := int64(0)
	for _, b := range bs {
		if b.Dropped == "" {
			lastAnchor = max(lastAnchor, b.Height)
		}
	}
	if lastAnchor > rev.Height {
		return fmt.Errorf("step 8: a batch was anchored in block %d, after the suspension in block %d", lastAnchor, rev.Height)
	}
	p("    the last anchor of the stream is in block %d, not after the suspension's block %d; the stream reads no more", lastAnchor, rev.Height)
	send.Stop()
	if _, err := owner.Daemon.StartDCMB(ownerCfg, nil); !errors.Is(err, dcmb.ErrNotCertified) {
		return fmt.Errorf("step 8: restarting the stream: %v, want it refused", err)
	} else {
		p("    restarting it is refused: %v", err)
	}
	recv.Stop()
	p("\nall steps passed")
	return nil
}

// propose builds the maintenance module of src with the recipe and
// proposes it as version v, as the owner's admin.
func propose(ctx context.Context, rt *sandbox.Runtime, o *local.Org, src string, v uint64, dir string) (*manifest.Proposal, []byte, error) {
	p := &manifest.Proposal{Descriptor: manifest.Descriptor{Name: "maintenance", Version: v, Outputs: []string{"maintenance"}},
		Channel: "default", Purpose: "maintenance"}
	bdir := filepath.Join(dir, fmt.Sprintf("build-%d", v))
	if err := os.MkdirAll(bdir, 0o755); err != nil {
		return nil, nil, err
	}
	wasm, err := certifier.Describe(ctx, rt, src, modules.Maintenance, bdir, &p.Descriptor)
	if err != nil {
		return nil, nil, err
	}
	if _, err := o.Call(ctx, o.Admin, certify.Name, "propose", p); err != nil {
		return nil, nil, err
	}
	return p, wasm, nil
}

// examine is a certifier's examination of a proposal and its vote.
func examine(ctx context.Context, rt *sandbox.Runtime, o *local.Org, id *identity.Identity, p *manifest.Proposal, src, tests, dir string) (*certifier.Examination, *apiclient.TxResponse, error) {
	cases, leaves, err := module.ReadTests(strings.NewReader(tests))
	if err != nil {
		return nil, nil, err
	}
	ts := &certifier.TestSet{Cases: cases, Leaves: leaves}
	rand.Read(ts.Secret[:])
	wdir, err := os.MkdirTemp(dir, o.Name+"-")
	if err != nil {
		return nil, nil, err
	}
	x, err := certifier.Examine(ctx, rt, p, src, wdir, ts, sandbox.Limits{}, "")
	if err != nil {
		return nil, nil, err
	}
	r, err := o.Call(ctx, id, certify.Name, "vote", x.Vote)
	return x, r, err
}

// moduleState reads a module's record from o's node once it is in state
// (the deciding vote went through another org's node, whose block o's
// node may not have applied yet).
func moduleState(ctx context.Context, o *local.Org, name string, version uint64, state string) (*certify.Module, error) {
	var m certify.Module
	var err error
	werr := waitUntil(ctx, 10*time.Second, func() bool {
		m, err = apiclient.Query[certify.Module](ctx, o.API, "default", certify.Name, "module", certify.ModuleQuery{Name: name, Version: version})
		return err == nil && m.State == state
	})
	if err != nil {
		return nil, err
	}
	if werr != nil {
		return nil, fmt.Errorf("%s@%d is %s, not %s", name, version, m.State, state)
	}
	return &m, nil
}
