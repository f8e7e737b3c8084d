// Package worker is a lending org's compute worker (paper 004): it watches
// the chain for open jobs its policy accepts, claims them, attests its
// enclave key, obtains the data keys from the requester's custodian
// (compute/keys), fetches and decrypts the program and inputs through its
// node, runs the program (compute/runner) in this process or in a child
// process killed at the deadline, stores the encrypted result, submits
// it signed by the enclave key and, in redundant mode, reveals it.
//
// It talks to its org's node through the API only (apiclient), as a member
// with a worker certificate. Several jobs run at once within the cores and
// memory it is given. Every step and every refusal is reported with its
// reason; every line about a job whose data the worker sees in clear says
// NOT CONFIDENTIAL.
package worker

import (
	"context"
	"crypto/ecdsa"
	"encoding/hex"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/sealnet/sealnet/apiclient"
	"github.com/sealnet/sealnet/attest"
	"github.com/sealnet/sealnet/compute/runner"
	"github.com/sealnet/sealnet/contract/compute"
	"github.com/sealnet/sealnet/identity"
)

// Policy is which jobs a worker takes.
type Policy struct {
	Modes          []string // accepted modes; empty: all three
	Requesters     []string // orgs whose jobs it takes; empty: any
	Programs       [][]byte // SHA-256 of accepted program modules; empty: any
	MinPrice       uint64   // in the consortium's unit
	MaxMemoryBytes uint64   // a job's memory limit, bytes; 0: the worker's whole memory
	MaxWallTimeMs  uint64   // a job's wall-time limit, milliseconds; 0: any
}

// Check says why the policy declines job j ("" if it accepts it) for a
// worker whose attester makes evidence of kind.
func (p Policy) Check(j *compute.Job, kind attest.Kind, memory uint64) string {
	switch {
	case len(p.Modes) > 0 && !slices.Contains(p.Modes, j.Mode):
		return fmt.Sprintf("mode %s is not among %s", j.Mode, strings.Join(p.Modes, ", "))
	case len(p.Requesters) > 0 && !slices.Contains(p.Requesters, j.Org):
		return fmt.Sprintf("requester org %s is not among %s", j.Org, strings.Join(p.Requesters, ", "))
	case j.Price < p.MinPrice:
		return fmt.Sprintf("price %d is below %d", j.Price, p.MinPrice)
	case j.Limits.MemoryBytes > memory || p.MaxMemoryBytes > 0 && j.Limits.MemoryBytes > p.MaxMemoryBytes:
		return fmt.Sprintf("memory limit %d MiB is above what this worker lends", j.Limits.MemoryBytes>>20)
	case p.MaxWallTimeMs > 0 && j.Limits.WallTimeMs > p.MaxWallTimeMs:
		return fmt.Sprintf("wall time %d ms is above %d ms", j.Limits.WallTimeMs, p.MaxWallTimeMs)
	case j.Attested() && !j.TEE.Accepts(kind):
		return fmt.Sprintf("its TEE policy does not accept %s evidence, which this worker makes", kind)
	}
	if len(p.Programs) > 0 && !slices.ContainsFunc(p.Programs, func(h []byte) bool { return string(h) == string(j.Program.SHA256) }) {
		return "program " + hex.EncodeToString(j.Program.SHA256)[:16] + " is not on the list of accepted programs"
	}
	return ""
}

// Config is what a Worker is built from.
type Config struct {
	Client   *apiclient.Client  // the org's node, as Identity
	Identity *identity.Identity // a worker certificate of the lending org
	Channel  string
	// Attester makes the evidence for an enclave key; nil: the software
	// attester (NOT CONFIDENTIAL), for development.
	Attester func(key *ecdsa.PrivateKey) attest.Attester
	// Kind is the attester's kind (for the policy check before a claim);
	// empty: software.
	Kind     attest.Kind
	Executor runner.Executor // runs programs: runner.Sandbox in this process, or Process
	Policy   Policy
	// Cores bounds the programs running at once (default 1); Jobs bounds
	// the jobs held at once, claimed and not finished (default 2 x Cores).
	Cores, Jobs int
	// MemoryBytes bounds the memory limits of the jobs held at once,
	// bytes (default 1 GiB).
	MemoryBytes uint64
	// Poll is how often open jobs are listed besides the chain's events
	// (default 1 s).
	Poll time.Duration
	// Say receives one line per step of every job, for the operator.
	Say func(line string)
	Log *slog.Logger
}

// Worker runs jobs until its context ends.
type Worker struct {
	cfg   Config
	cores chan struct{}
	wake  *notifier

	mu      sync.Mutex
	held    map[string]bool   // jobs being worked on
	done    map[string]string // jobs finished or declined, with why (declined ones are reconsidered when they change)
	memory  uint64            // held jobs' memory limits
	results []Result
}

// Result is how one job ended for this worker.
type Result struct {
	Job     string
	Outcome string // "submitted", "failed: ...", "withdrawn: ...", "refused: ..."
	Verdict string // the chain's, once the job ended
	Elapsed time.Duration
}

// New returns a worker.
func New(cfg Config) *Worker {
	if cfg.Cores <= 0 {
		cfg.Cores = 1
	}
	if cfg.Jobs <= 0 {
		cfg.Jobs = 2 * cfg.Cores
	}
	if cfg.MemoryBytes == 0 {
		cfg.MemoryBytes = 1 << 30
	}
	if cfg.Poll <= 0 {
		cfg.Poll = time.Second
	}
	if cfg.Kind == "" {
		cfg.Kind = attest.KindSoftware
	}
	if cfg.Attester == nil {
		cfg.Attester = func(k *ecdsa.PrivateKey) attest.Attester { return attest.Software{Key: k} }
	}
	if cfg.Say == nil {
		cfg.Say = func(string) {}
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	return &Worker{cfg: cfg, cores: make(chan struct{}, cfg.Cores), wake: newNotifier(), held: map[string]bool{}, done: map[string]string{}}
}

// Results returns how the jobs this worker took part in ended so far.
func (w *Worker) Results() []Result {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.results)
}

// Run works until ctx ends, then waits for the jobs it holds to stop.
func (w *Worker) Run(ctx context.Context) error {
	if w.cfg.Identity.Member.Role != identity.RoleWorker {
		return fmt.Errorf("worker: %s@%s has role %s; claims need a certificate of role worker (sealnet ca issue --role worker)",
			w.cfg.Identity.Member.ID, w.cfg.Identity.Member.Org, w.cfg.Identity.Member.Role)
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	go w.watch(ctx)
	tick := time.NewTicker(w.cfg.Poll)
	defer tick.Stop()
	for {
		if err := w.scan(ctx, &wg); err != nil && ctx.Err() == nil {
			w.cfg.Log.Warn("list open jobs", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		case <-w.wake.wait():
		}
	}
}

// scan lists the open jobs and starts those the policy and the capacity
// allow.
func (w *Worker) scan(ctx context.Context, wg *sync.WaitGroup) error {
	jobs, err := apiclient.Query[[]*compute.Job](ctx, w.cfg.Client, w.cfg.Channel, compute.Name, "open", struct{}{})
	if err != nil {
		return err
	}
	for _, j := range jobs {
		if !w.take(j) {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			w.work(ctx, j)
		}()
	}
	return nil
}

// take decides whether to start on j now, and reserves its memory.
func (w *Worker) take(j *compute.Job) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	key := j.ID + "/" + fmt.Sprint(len(j.History))
	if w.held[j.ID] || w.done[j.ID] != "" || w.done[key] != "" {
		return false
	}
	if why := w.cfg.Policy.Check(j, w.cfg.Kind, w.cfg.MemoryBytes); why != "" {
		w.done[key] = why // reconsidered when the job changes
		w.say(j, "declined: %s", why)
		return false
	}
	if len(w.held) >= w.cfg.Jobs || w.memory+j.Limits.MemoryBytes > w.cfg.MemoryBytes {
		return false // taken up when capacity frees, if still open
	}
	w.held[j.ID] = true
	w.memory += j.Limits.MemoryBytes
	return true
}

func (w *Worker) release(j *compute.Job, r Result) {
	w.mu.Lock()
	defer w.mu.Unlock()
	delete(w.held, j.ID)
	w.memory -= j.Limits.MemoryBytes
	w.done[j.ID] = r.Outcome
	w.results = append(w.results, r)
	w.wake.notify()
}

// say reports a step of job j; a job whose data this worker sees in clear
// is marked so on every line.
func (w *Worker) say(j *compute.Job, format string, args ...any) {
	line := fmt.Sprintf("job %s: %s", short(j.ID), fmt.Sprintf(format, args...))
	if strings.HasPrefix(j.Confidentiality, attest.NotConfidential) {
		line += " [" + attest.NotConfidential + "]"
	}
	w.cfg.Say(line)
}

func short(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}
