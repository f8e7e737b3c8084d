package demo

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/sealnet/sealnet/apiclient"
	"github.com/sealnet/sealnet/attest"
	"github.com/sealnet/sealnet/canon"
	"github.com/sealnet/sealnet/compute/keys"
	"github.com/sealnet/sealnet/compute/requester"
	"github.com/sealnet/sealnet/compute/runner"
	"github.com/sealnet/sealnet/contract/compute"
	"github.com/sealnet/sealnet/identity"
	"github.com/sealnet/sealnet/internal/wasmbuild"
	"github.com/sealnet/sealnet/local"
	"github.com/sealnet/sealnet/member"
	"github.com/sealnet/sealnet/sandbox"
	"github.com/sealnet/sealnet/worker"
)

// ComputeOptions configure the compute demo.
type ComputeOptions struct {
	// Program is the stats module (scripts/build-programs.sh); nil: built
	// from the source tree the working directory is in.
	Program []byte
	Log     *slog.Logger // the nodes' and workers' log; nil: discarded
	// Started and Finished see the consortium once it runs and before it
	// stops (tests scan it).
	Started, Finished func(*local.Consortium)
	// Secrets receives the plaintexts the demo computes on and gets back:
	// none may appear on chain or in a log.
	Secrets func(inputs [][]byte, output []byte)
}

// Compute runs paper 004's scenario on four companies: org1 posts an
// analytics job over encrypted sensor series it stored, org2's and org3's
// workers compute it in redundant mode (software attestation: NOT
// CONFIDENTIAL), org4's tampered worker returns a wrong result and is
// caught by the majority, and org1 decrypts the accepted result.
func Compute(ctx context.Context, w io.Writer, o ComputeOptions) error {
	p := func(format string, args ...any) { fmt.Fprintf(w, format+"\n", args...) }
	wasm := o.Program
	if wasm == nil {
		var err error
		if wasm, err = buildStats(ctx); err != nil {
			return err
		}
	}
	log := o.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	dir, err := os.MkdirTemp("", "sealnet-demo-compute-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	p("starting a consortium of four companies (separate nodes, one channel, CometBFT + libp2p)...")
	c, err := local.Start(dir, 4, log)
	if err != nil {
		return err
	}
	defer c.Close()
	if o.Started != nil {
		o.Started(c)
	}
	if o.Finished != nil {
		defer o.Finished(c)
	}
	R := c.Orgs[0]
	const ch = "default"

	p("\n[1] identities: the requester's analyst (org1) and one worker certificate per lending company")
	analyst, tx, err := R.Enroll(ctx, "analyst", identity.RoleClient)
	if err != nil {
		return fmt.Errorf("step 1: %w", err)
	}
	p("    %s@%s role %s, enrolled in tx %s at height %d", analyst.Member.ID, analyst.Member.Org, analyst.Member.Role, tx.TxID[:16], tx.Height)
	workers := map[string]*identity.Identity{}
	for _, l := range c.Orgs[1:] {
		wid, tx, err := l.Enroll(ctx, "worker", identity.RoleWorker)
		if err != nil {
			return fmt.Errorf("step 1: %w", err)
		}
		workers[l.Name] = wid
		p("    %s@%s role %s, enrolled in tx %s at height %d", wid.Member.ID, wid.Member.Org, wid.Member.Role, tx.TxID[:16], tx.Height)
	}
	api, err := R.Client(analyst)
	if err != nil {
		return err
	}

	p("\n[2] org1 stores the program and two machines' sensor series: signed, encrypted under fresh data keys, kept by org1's node as custodian")
	series := [][]byte{sensorSeries("press-7", 4000, 1), sensorSeries("press-8", 4000, 2)}
	if o.Secrets != nil {
		defer func() { o.Secrets(series, nil) }()
	}
	progSum := sha256.Sum256(wasm)
	prog, err := member.Put(ctx, api, analyst, ch, bytes.NewReader(wasm), member.Meta{Keywords: []string{"program", "stats"},
		Summary: "stats: count, min, max, mean, stddev per series", Type: "application/wasm"}, nil)
	if err != nil {
		return fmt.Errorf("step 2: %w", err)
	}
	p("    program stats.wasm %d bytes, sha256 %x: CID %s (tx %s)", len(wasm), progSum[:8], prog.CID, prog.TXNumber[:16])
	var inputs []string
	for i, s := range series {
		put, err := member.Put(ctx, api, analyst, ch, bytes.NewReader(s), member.Meta{Keywords: []string{"sensors"},
			Summary: fmt.Sprintf("spindle temperature, press %d", 7+i), Type: "text/csv"}, nil)
		if err != nil {
			return fmt.Errorf("step 2: %w", err)
		}
		inputs = append(inputs, put.CID)
		p("    series %d: %d bytes (ciphertext %d), CID %s (tx %s)", i, put.PlaintextSize, put.CiphertextSize, put.CID, put.TXNumber[:16])
	}

	p("\n[3] org1 posts the job: 3 workers of distinct lending orgs, each attested (software), results compared by commit and reveal")
	var resultKey *ecdsa.PrivateKey
	args := compute.PostArgs{
		Program: compute.Program{CID: prog.CID, SHA256: progSum[:]}, Inputs: inputs,
		Limits: compute.Limits{MemoryBytes: 128 << 20, WallTimeMs: 60_000, OutputBytes: 4096},
		Mode:   compute.ModeAttestedRedundant, Replicas: 3, TEE: attest.Policy{Kinds: []attest.Kind{attest.KindSoftware}},
		Price: 10, DeadlineBlocks: 5000, LeaseBlocks: 2000, WindowBlocks: 1000, Lenders: []string{"org2", "org3", "org4"},
	}
	posted, err := requester.Post(ctx, api, analyst, ch, args, func(_ string, k *ecdsa.PrivateKey) error { resultKey = k; return nil })
	if err != nil {
		return fmt.Errorf("step 3: %w", err)
	}
	p("    job %s posted in tx %s at height %d, deadline block %d", posted.Job, posted.TxID[:16], posted.Height, posted.Deadline)
	p("    %s", posted.Confidentiality)
	p("    the result key's public half is on chain; its private half and the output salt stay with the requester (the salt also with org1's node)")

	p("\n[4] a worker without a claim asks org1's custodian for the keys: refused, with the reason on chain")
	if err := strangerAsks(ctx, c.Orgs[1], workers["org2"], posted.Job, prog.Custodian, p); err != nil {
		return fmt.Errorf("step 4: %w", err)
	}

	p("\n[5] the three lenders' workers run: claim, attest, receive the keys sealed to their enclave key, fetch, decrypt, run, submit, reveal")
	p("    (org4's runner is tampered: it changes the program's output before encrypting it)")
	var mu sync.Mutex
	wctx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for _, l := range c.Orgs[1:] {
		cl, err := l.Client(workers[l.Name])
		if err != nil {
			stop()
			return err
		}
		rt, err := sandbox.New(ctx, sandbox.Config{CacheDir: dir + "/wasm-" + l.Name})
		if err != nil {
			stop()
			return err
		}
		defer rt.Close(context.Background())
		var ex runner.Executor = runner.Sandbox{RT: rt}
		if l.Name == "org4" {
			ex = tampered{ex}
		}
		name := l.Name
		wk := worker.New(worker.Config{Client: cl, Identity: workers[l.Name], Channel: ch, Executor: ex, Cores: 1,
			MemoryBytes: 512 << 20, Poll: 200 * time.Millisecond, Log: log.With("worker", name),
			Say: func(line string) { mu.Lock(); p("    %s: %s", name, line); mu.Unlock() }})
		wg.Add(1)
		go func() { defer wg.Done(); wk.Run(wctx) }()
	}
	j, err := waitJob(ctx, api, ch, posted.Job, 3*time.Minute)
	stop()
	wg.Wait()
	if err != nil {
		return fmt.Errorf("step 5: %w", err)
	}

	p("\n[6] the chain's tally: the value the majority revealed is accepted; the tampered worker is recorded as disagreeing")
	p("    job %s: %s (%s)", short(j.ID), j.State, j.Reason)
	caught := false
	for _, s := range j.Slots {
		kind := attest.Kind("none")
		if s.Attestation != nil {
			kind = s.Attestation.Kind
		}
		p("    worker of %s: %s, attested %s, grant %s, result %s, commit %s, reveal %s: %s", s.Org, s.State, kind, hx(s.Grant), s.ResultCID, hx(s.Commitment), hx(s.Reveal), s.Verdict)
		caught = caught || s.Org == "org4" && s.Verdict == "disagrees with the majority"
	}
	if j.State != compute.StateAccepted || !caught {
		return fmt.Errorf("step 6: job %s, the tampered worker caught: %v", j.State, caught)
	}
	p("    history:")
	for _, h := range j.History {
		who := ""
		if h.Worker != "" {
			who = " worker " + h.Worker[:12]
		}
		p("      block %d %s%s: %s", h.Height, h.State, who, h.Reason)
	}

	p("\n[7] org1 fetches the accepted result, decrypts it with its result key and checks it against the commitment on chain")
	res, err := requester.Fetch(ctx, api, ch, posted.Job, resultKey)
	if err != nil {
		return fmt.Errorf("step 7: %w", err)
	}
	if o.Secrets != nil {
		defer func() { o.Secrets(nil, res.Output) }()
	}
	p("    result %s from the worker of %s, %d bytes, matches the revealed commitment %x:", res.CID, res.WorkerOrg, res.Size, res.Commitment[:8])
	for _, line := range strings.Split(strings.TrimSpace(string(res.Output)), "\n") {
		p("      %s", line)
	}
	local, err := runLocally(ctx, wasm, series)
	if err != nil {
		return fmt.Errorf("step 7: %w", err)
	}
	p("    org1 re-runs the program on its own data: the same bytes: %v", bytes.Equal(local, res.Output))
	if !bytes.Equal(local, res.Output) {
		return errors.New("step 7: the accepted result differs from the program's output")
	}
	if err := payLenders(ctx, p, c, R, posted.Job, j.Payees()); err != nil {
		return fmt.Errorf("step 8: %w", err)
	}
	p("\n%s: the lenders' machines saw the data in clear (software attestation); a TEE policy (tdx, snp) is what makes a job confidential", attest.NotConfidential)
	p("\nall steps passed")
	return nil
}

// tampered is a dishonest worker's runner: it runs the program and then
// changes its output.
type tampered struct{ runner.Executor }

func (t tampered) Execute(ctx context.Context, program []byte, sha sandbox.Hash, in sandbox.Files, l compute.Limits) (*runner.Execution, error) {
	x, err := t.Executor.Execute(ctx, program, sha, in, l)
	if err == nil && x.Failure == "" {
		x.Output = bytes.Replace(x.Output, []byte("count="), []byte("count=1"), 1)
	}
	return x, err
}

// strangerAsks has worker wid of org o ask for the keys of a job it holds
// no claim on.
func strangerAsks(ctx context.Context, o *local.Org, wid *identity.Identity, job, custodian string, p func(string, ...any)) error {
	cl, err := o.Client(wid)
	if err != nil {
		return err
	}
	k, err := attest.NewEnclaveKey()
	if err != nil {
		return err
	}
	req, err := keys.NewRequest(wid, "default", job, attest.EncodeKey(&k.PublicKey), 0, time.Now())
	if err != nil {
		return err
	}
	raw, err := cl.RequestComputeKeys(ctx, "default", custodian, req)
	if err != nil {
		return err
	}
	var ans keys.Answer
	if err := canon.Unmarshal(raw, &ans); err != nil {
		return err
	}
	if ans.Denied == "" || ans.Sealed != nil || ans.DenyTx == "" {
		return fmt.Errorf("a worker without a claim got %+v", ans)
	}
	p("    %s@%s: refused: %q, recorded by compute.deny in tx %s; no key left org1's node", wid.Member.ID, wid.Member.Org, ans.Denied, ans.DenyTx[:16])
	return nil
}

// waitJob waits for the job to end.
func waitJob(ctx context.Context, c *apiclient.Client, ch, job string, d time.Duration) (*compute.Job, error) {
	deadline := time.Now().Add(d)
	for {
		j, err := requester.Job(ctx, c, ch, job)
		if err == nil && j.Terminal() {
			return j, nil
		}
		if time.Now().After(deadline) {
			if err == nil {
				err = fmt.Errorf("job still %s after %s", j.State, d)
			}
			return nil, err
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// runLocally runs the program on the series as the requester can, on its
// own machine.
func runLocally(ctx context.Context, wasm []byte, series [][]byte) ([]byte, error) {
	rt, err := sandbox.New(ctx, sandbox.Config{Engine: sandbox.Interpreter})
	if err != nil {
		return nil, err
	}
	defer rt.Close(ctx)
	m, err := rt.Compile(ctx, wasm, sha256.Sum256(wasm))
	if err != nil {
		return nil, err
	}
	var files []sandbox.File
	for i, s := range series {
		files = append(files, sandbox.File{Name: fmt.Sprintf("%02d", i), Data: s})
	}
	in, err := sandbox.NewFiles(files...)
	if err != nil {
		return nil, err
	}
	res, err := rt.Run(ctx, m, sandbox.Spec{Inputs: in, Args: []string{"job"}, Limits: sandbox.Limits{MemoryBytes: 128 << 20, WallTime: time.Minute, OutputBytes: 4096}})
	if err != nil {
		return nil, err
	}
	return res.Output, nil
}

// sensorSeries is a machine's spindle temperature, one reading a minute:
// a slow drift, a daily cycle, noise from a fixed generator and a few
// spikes, as "unix-ms,degrees" lines.
func sensorSeries(name string, n int, seed uint64) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "# spindle temperature, %s\n", name)
	x := seed
	for i := range n {
		x = x*6364136223846793005 + 1442695040888963407
		noise := int64(x>>40)%400 - 200
		cycle := int64(i%1440) - 720
		if cycle < 0 {
			cycle = -cycle
		}
		v := 41_000 + int64(i)/50 + cycle*3 + noise
		if i%997 == 500 {
			v += 9_000
		}
		fmt.Fprintf(&b, "%d,%d.%03d\n", 1767225600000+int64(i)*60_000, v/1000, v%1000)
	}
	return b.Bytes()
}

// buildStats builds the stats program from the source tree around the
// working directory.
func buildStats(ctx context.Context) ([]byte, error) {
	wd, err := os.Getwd()
	if err != nil {
		return nil, err
	}
	root, err := wasmbuild.ModuleRoot(wd)
	if err != nil {
		return nil, fmt.Errorf("no program module: give --program stats.wasm (scripts/build-programs.sh builds it) or run from the source tree: %w", err)
	}
	out, err := os.MkdirTemp("", "sealnet-program-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(out)
	if _, err := wasmbuild.Build(ctx, root, "./compute/programs/stats", out+"/stats.wasm"); err != nil {
		return nil, err
	}
	return os.ReadFile(out + "/stats.wasm")
}

func short(id string) string { return id[:min(len(id), 16)] }

// hx is the first 8 bytes of b in hex ("-" for none).
func hx(b []byte) string {
	if len(b) == 0 {
		return "-"
	}
	return hex.EncodeToString(b[:min(len(b), 8)])
}

// payLenders is paper 004's section 5 for the accepted job: the
// requester's node opens a payment channel to each lender the acceptance
// pays and sends it one voucher conditional on the job, off chain; each
// lender's node checks the voucher against its replica (the job accepted,
// this org paid, the price covered) and keeps it durably.
func payLenders(ctx context.Context, p func(string, ...any), c *local.Consortium, R *local.Org, job string, payees []string) error {
	p("\n[8] org1 pays each lender the acceptance names through a payment channel: one voucher per result, off chain")
	if err := c.Mint(ctx, "demo-compute", R.Name, 1000); err != nil {
		return err
	}
	if err := R.FundNode(ctx, 500); err != nil {
		return err
	}
	for _, org := range payees {
		ch, err := R.OpenChannel(ctx, org, 100, 100_000, 1000)
		if err != nil {
			return err
		}
		p("    channel %s to %s: deposit %d credits (tx 1 of at most 3 for the channel)", short(ch.ID), org, ch.Deposit)
	}
	receipts, err := R.Daemon.Payments.PayJob(ctx, "default", job)
	if err != nil {
		return err
	}
	if len(receipts) != len(payees) {
		return fmt.Errorf("%d vouchers for %d lenders", len(receipts), len(payees))
	}
	for _, r := range receipts {
		p("    voucher on channel %s lane %d nonce %d: %d credits (cumulative %d), conditional on job %s; acknowledged once on the lender's disk", short(r.Channel), r.Lane, r.Nonce, r.Paid, r.Amount, short(r.Job))
	}
	return nil
}
