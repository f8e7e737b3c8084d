package bench

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"runtime"
	"time"

	"github.com/sealnet/sealnet/contract/audit"
	"github.com/sealnet/sealnet/dcmb"
	"github.com/sealnet/sealnet/dcmb/source"
	"github.com/sealnet/sealnet/evidence"
	"github.com/sealnet/sealnet/local"
)

// DCMBOptions shape the DCMB benchmark.
type DCMBOptions struct {
	Messages  int           // messages of the capacity run, offered as fast as the pipeline takes them (default 1,000,000)
	Rate      int           // messages/s of the steady run (default 50,000, the target)
	Steady    time.Duration // length of the steady run (default 10 s)
	Size      int           // bytes per message value (default 256)
	Interval  time.Duration // anchoring interval (default 1 s)
	Mosquitto string        // broker binary (default: mosquitto on PATH or /usr/sbin/mosquitto)
	NoModule  bool          // skip the runs of a certified stream (they build the module with the go command)
	Progress  io.Writer
}

// DCMBResult is one run's figures.
type DCMBResult struct {
	Size       int     `json:"message_bytes"`
	IntervalMs float64 `json:"interval_ms"`
	// capacity: Messages offered at once, first read to last delivered and anchored
	Messages uint64  `json:"messages"`
	Seconds  float64 `json:"seconds"`
	MsgsPerS float64 `json:"msgs_per_s"` // delivered to the receiver, verified, and anchored
	// steady: Rate offered for the Steady time
	SteadyRate      int     `json:"steady_offered_msgs_per_s"`
	SteadyMsgsPerS  float64 `json:"steady_msgs_per_s"`
	AnchorLatencyMs float64 `json:"anchor_latency_ms"` // steady run, p99 from an interval's end to its anchor's commit
	AnchorP50Ms     float64 `json:"anchor_latency_p50_ms"`
	AnchorMaxMs     float64 `json:"anchor_latency_max_ms"`
	BurstAnchorMs   float64 `json:"capacity_anchor_latency_p99_ms"` // capacity run, batches queued behind each other
	// the same capacity run with a threshold rule (uncertified labels), and
	// on a certified stream: the maintenance module runs on every batch
	RulesMsgsPerS        float64 `json:"rules_msgs_per_s"`
	ModuleMsgsPerS       float64 `json:"module_msgs_per_s"`
	ModuleSteadyMsgsPerS float64 `json:"module_steady_msgs_per_s"`
	ModuleAnchorP99Ms    float64 `json:"module_steady_anchor_latency_p99_ms"`
	ModuleInstanceMs     float64 `json:"module_instance_ms"` // one run on an empty batch: an instance and Go's runtime starting in it
	ModuleBatchMs        float64 `json:"module_batch_ms"`    // one run on ModuleBatch messages
	ModuleBatch          int     `json:"module_batch_msgs"`
	// both runs
	Batches          int     `json:"batches"`
	Txs              uint64  `json:"txs"` // chain transactions of the sender
	TxPerMillionMsgs float64 `json:"tx_per_million_msgs"`
	SealedCommitMs   float64 `json:"sealed_commit_ms"` // commitment of one batch of CommitBatch messages, sealed mode (salts, leaves, RFC 6962 root)
	PaperCommitMs    float64 `json:"paper_commit_ms"`  // the same batch in paper mode (Argon2id over the interval's data)
	CommitBatch      int     `json:"commit_batch_msgs"`
	// the baseline: the capacity run's messages through Mosquitto
	MosquittoMsgsPerS float64 `json:"mosquitto_msgs_per_s"` // QoS 0, publisher to subscriber
	MosquittoLost     int     `json:"mosquitto_lost"`
	MosquittoVersion  string  `json:"mosquitto_version"`
	GOMAXPROCS        int     `json:"gomaxprocs"`
}

func (o DCMBOptions) progress(format string, args ...any) {
	if o.Progress != nil {
		fmt.Fprintf(o.Progress, format+"\n", args...)
	}
}

// generator offers n messages of one size, as fast as the pipeline takes
// them or, with a rate, paced; the values are random bytes, one pool
// reused.
type generator struct {
	n    int
	rate int
	pool [][]byte
	t0   chan time.Time
}

func newGenerator(n, rate, size int) *generator {
	g := &generator{n: n, rate: rate, pool: make([][]byte, 1024), t0: make(chan time.Time, 1)}
	for i := range g.pool {
		g.pool[i] = make([]byte, size)
		rand.Read(g.pool[i])
	}
	return g
}

func (g *generator) Run(ctx context.Context, out chan<- source.Message) error {
	t0 := time.Now()
	g.t0 <- t0
	for i := range g.n {
		if g.rate > 0 && i%100 == 0 {
			// pace: message i is due at t0 + i/rate
			if d := time.Until(t0.Add(time.Duration(float64(i) / float64(g.rate) * float64(time.Second)))); d > 0 {
				select {
				case <-time.After(d):
				case <-ctx.Done():
					return nil
				}
			}
		}
		select {
		case out <- source.Message{Key: "m", Value: g.pool[i%len(g.pool)], Time: time.Now()}:
		case <-ctx.Done():
			return nil
		}
	}
	return nil
}

// streamRun is one stream's measured run.
type streamRun struct {
	n       uint64
	elapsed time.Duration
	delays  []time.Duration
	txs     uint64
}

func (r streamRun) p(q float64) float64 {
	if len(r.delays) == 0 {
		return 0
	}
	return ms(r.delays[min(len(r.delays)-1, max(0, int(math.Ceil(float64(len(r.delays))*q))-1))])
}

// DCMB streams generated messages from one company's node to another's
// on a local two-company consortium, delivered, verified and anchored in
// sealed mode, first as fast as the pipeline takes them (capacity), then
// at a steady rate (anchoring latency), and measures the same messages
// through Mosquitto.
func DCMB(ctx context.Context, o DCMBOptions) (*DCMBResult, error) {
	if o.Messages <= 0 {
		o.Messages = 1_000_000
	}
	if o.Rate <= 0 {
		o.Rate = 50_000
	}
	if o.Steady <= 0 {
		o.Steady = 10 * time.Second
	}
	if o.Size <= 0 {
		o.Size = 256
	}
	if o.Interval <= 0 {
		o.Interval = time.Second
	}
	res := &DCMBResult{Size: o.Size, IntervalMs: ms(o.Interval), GOMAXPROCS: runtime.GOMAXPROCS(0), SteadyRate: o.Rate}

	o.progress("mosquitto: %d messages of %d bytes, QoS 0, one publisher, one subscriber...", o.Messages, o.Size)
	if err := res.mosquitto(ctx, o); err != nil {
		return nil, fmt.Errorf("mosquitto baseline: %w", err)
	}
	o.progress("mosquitto: %.0f msgs/s", res.MosquittoMsgsPerS)

	res.commitCost(o)
	o.progress("commitment of a %d-message batch: sealed %.1f ms, paper %.1f ms", res.CommitBatch, res.SealedCommitMs, res.PaperCommitMs)

	dir, err := os.MkdirTemp("", "sealnet-bench-dcmb-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	o.progress("dcmb: starting two companies' nodes...")
	c, err := local.Start(dir, 2, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		return nil, err
	}
	defer c.Close()

	o.progress("dcmb capacity: %d messages of %d bytes offered at once, interval %s, sealed mode...", o.Messages, o.Size, o.Interval)
	burst, err := runStream(ctx, o, c.Orgs[0], c.Orgs[1], "capacity", newGenerator(o.Messages, 0, o.Size), nil)
	if err != nil {
		return nil, err
	}
	res.Messages, res.Seconds = burst.n, burst.elapsed.Seconds()
	res.MsgsPerS = float64(burst.n) / burst.elapsed.Seconds()
	res.BurstAnchorMs = burst.p(0.99)
	o.progress("dcmb capacity: %.0f msgs/s delivered and anchored", res.MsgsPerS)

	steadyN := int(float64(o.Rate) * o.Steady.Seconds())
	o.progress("dcmb steady: %d messages/s for %s...", o.Rate, o.Steady)
	steady, err := runStream(ctx, o, c.Orgs[0], c.Orgs[1], "steady", newGenerator(steadyN, o.Rate, o.Size), nil)
	if err != nil {
		return nil, err
	}
	res.SteadyMsgsPerS = float64(steady.n) / steady.elapsed.Seconds()
	res.AnchorP50Ms, res.AnchorLatencyMs = steady.p(0.5), steady.p(0.99)
	if len(steady.delays) > 0 {
		res.AnchorMaxMs = ms(steady.delays[len(steady.delays)-1])
	}
	res.Batches = len(burst.delays) + len(steady.delays)
	res.Txs = burst.txs + steady.txs
	res.TxPerMillionMsgs = float64(res.Txs) / float64(burst.n+steady.n) * 1e6
	o.progress("dcmb steady: %.0f msgs/s delivered and anchored, anchoring p99 %.0f ms", res.SteadyMsgsPerS, res.AnchorLatencyMs)

	o.progress("dcmb capacity with a threshold rule: %d messages...", o.Messages)
	above, below := 5300.0, 5400.0
	rules, err := runStream(ctx, o, c.Orgs[0], c.Orgs[1], "rules", newGenerator(o.Messages, 0, o.Size), func(s *dcmb.StreamConfig) {
		s.Rules = []dcmb.Rule{{Above: &above, Below: &below, Label: "Maintenance imminent", Condition: "bench", LabelSalt: "bench"}}
	})
	if err != nil {
		return nil, err
	}
	res.RulesMsgsPerS = float64(rules.n) / rules.elapsed.Seconds()
	o.progress("dcmb capacity with a threshold rule: %.0f msgs/s", res.RulesMsgsPerS)
	if o.NoModule {
		return res, nil
	}

	o.progress("dcmb certified: building the maintenance module and certifying it...")
	mc, wasm, err := certifiedModule(ctx, dir, c.Orgs[0], c.Orgs[1])
	if err != nil {
		return nil, fmt.Errorf("the certified runs: %w", err)
	}
	if err := res.moduleCost(ctx, wasm, res.CommitBatch, o.Size); err != nil {
		return nil, err
	}
	o.progress("module alone: %.1f ms an instance, %.1f ms for %d messages", res.ModuleInstanceMs, res.ModuleBatchMs, res.ModuleBatch)
	withModule := func(s *dcmb.StreamConfig) { m := *mc; s.Module = &m }
	o.progress("dcmb capacity with the certified module: %d messages...", o.Messages)
	mod, err := runStream(ctx, o, c.Orgs[0], c.Orgs[1], "module", newGenerator(o.Messages, 0, o.Size), withModule)
	if err != nil {
		return nil, err
	}
	res.ModuleMsgsPerS = float64(mod.n) / mod.elapsed.Seconds()
	o.progress("dcmb capacity with the certified module: %.0f msgs/s", res.ModuleMsgsPerS)
	o.progress("dcmb steady with the certified module: %d messages/s for %s...", o.Rate, o.Steady)
	ms, err := runStream(ctx, o, c.Orgs[0], c.Orgs[1], "module-steady", newGenerator(steadyN, o.Rate, o.Size), withModule)
	if err != nil {
		return nil, err
	}
	res.ModuleSteadyMsgsPerS, res.ModuleAnchorP99Ms = float64(ms.n)/ms.elapsed.Seconds(), ms.p(0.99)
	o.progress("dcmb steady with the certified module: %.0f msgs/s, anchoring p99 %.0f ms", res.ModuleSteadyMsgsPerS, res.ModuleAnchorP99Ms)
	return res, nil
}

// runStream runs one stream from owner to maker until every generated
// message is delivered, verified and anchored.
func runStream(ctx context.Context, o DCMBOptions, owner, maker *local.Org, name string, gen *generator, modify func(*dcmb.StreamConfig)) (*streamRun, error) {
	receiving, err := maker.Daemon.StartDCMB(&dcmb.Config{Receive: []dcmb.ReceiveConfig{{Stream: name, From: owner.Name}}}, nil)
	if err != nil {
		return nil, err
	}
	defer receiving.Stop()
	sc := dcmb.StreamConfig{Name: name, Receiver: maker.Name, Interval: dcmb.Duration{Duration: o.Interval}, SpoolBytes: 16 << 30,
		Source: dcmb.SourceConfig{Kind: "stdin"}}
	if modify != nil {
		modify(&sc)
	}
	sending, err := owner.Daemon.StartDCMB(&dcmb.Config{Streams: []dcmb.StreamConfig{sc}}, map[string]source.Source{name: gen})
	if err != nil {
		return nil, err
	}
	defer sending.Stop()
	rcv, snd := receiving.Runtime, sending.Runtime

	var t0 time.Time
	select {
	case t0 = <-gen.t0:
	case <-time.After(time.Minute):
		return nil, errors.New("the generator did not start")
	}
	n := uint64(gen.n)
	last := time.Now()
	for {
		d, a := snd.Stats.Delivered.Load(), snd.Stats.Anchored.Load()
		if d >= n && a >= n {
			break
		}
		if time.Since(last) > 2*time.Second {
			last = time.Now()
			o.progress("  %.1fs: read %d, anchored %d, delivered %d", time.Since(t0).Seconds(), snd.Stats.Collected.Load(), a, d)
		}
		if time.Since(t0) > 10*time.Minute {
			return nil, fmt.Errorf("after 10 minutes %d of %d messages delivered and %d anchored", d, n, a)
		}
		select {
		case <-time.After(time.Millisecond):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	elapsed := time.Since(t0)
	if r := rcv.Stats.Received.Load(); r != n {
		return nil, fmt.Errorf("the receiver verified %d messages, want %d", r, n)
	}
	return &streamRun{n: n, elapsed: elapsed, delays: snd.Stats.AnchorDelays(), txs: snd.Stats.Txs.Load()}, nil
}

// commitCost measures one interval's commitment at the measured
// Mosquitto rate (at least 10,000 messages) in both modes.
func (res *DCMBResult) commitCost(o DCMBOptions) {
	n := max(10_000, int(res.MosquittoMsgsPerS*o.Interval.Seconds()))
	n = min(n, o.Messages)
	g := newGenerator(0, 0, o.Size)
	b := &dcmb.Batch{Stream: "bench", Msgs: make([]dcmb.Message, n)}
	for i := range b.Msgs {
		b.Msgs[i] = dcmb.Message{Seq: uint64(i), Key: "m", Value: g.pool[i%len(g.pool)]}
	}
	var secret evidence.StreamSecret
	rand.Read(secret[:])
	t := time.Now()
	b.ComputeRoot(secret)
	res.SealedCommitMs = ms(time.Since(t))
	b.Mode, b.PaperSalt = audit.ModePaper, make([]byte, 32)
	t = time.Now()
	b.ComputeRoot(secret)
	res.PaperCommitMs = ms(time.Since(t))
	res.CommitBatch = n
}
