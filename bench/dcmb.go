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
	Messages  int           // messages the generator offers (default 1,000,000)
	Size      int           // bytes per message value (default 256)
	Interval  time.Duration // anchoring interval (default 1 s)
	Mosquitto string        // broker binary (default: mosquitto on PATH or /usr/sbin/mosquitto)
	Progress  io.Writer
}

// DCMBResult is one run's figures.
type DCMBResult struct {
	Messages          uint64  `json:"messages"`
	Size              int     `json:"message_bytes"`
	Seconds           float64 `json:"seconds"`           // first message read to last delivered and anchored
	MsgsPerS          float64 `json:"msgs_per_s"`        // delivered to the receiver, verified, and anchored
	AnchorLatencyMs   float64 `json:"anchor_latency_ms"` // p99, interval end to anchor committed
	AnchorLatencyP50  float64 `json:"anchor_latency_p50_ms"`
	AnchorLatencyMax  float64 `json:"anchor_latency_max_ms"`
	Batches           int     `json:"batches"`
	Txs               uint64  `json:"txs"` // chain transactions of the sender
	TxPerMillionMsgs  float64 `json:"tx_per_million_msgs"`
	IntervalMs        float64 `json:"interval_ms"`
	SealedCommitMs    float64 `json:"sealed_commit_ms"` // commitment of one batch of CommitBatch messages, sealed mode (salts, leaves, RFC 6962 root)
	PaperCommitMs     float64 `json:"paper_commit_ms"`  // the same batch in paper mode (Argon2id over the interval's data)
	CommitBatch       int     `json:"commit_batch_msgs"`
	MosquittoMsgsPerS float64 `json:"mosquitto_msgs_per_s"` // the same messages through Mosquitto, QoS 0, publisher to subscriber
	MosquittoLost     int     `json:"mosquitto_lost"`
	MosquittoVersion  string  `json:"mosquitto_version"`
	GOMAXPROCS        int     `json:"gomaxprocs"`
}

func (o DCMBOptions) progress(format string, args ...any) {
	if o.Progress != nil {
		fmt.Fprintf(o.Progress, format+"\n", args...)
	}
}

// generator offers n messages of one size as fast as the pipeline takes
// them; the values are random bytes, one pool reused.
type generator struct {
	n    int
	pool [][]byte
	t0   chan time.Time
}

func newGenerator(n, size int) *generator {
	g := &generator{n: n, pool: make([][]byte, 1024), t0: make(chan time.Time, 1)}
	for i := range g.pool {
		g.pool[i] = make([]byte, size)
		rand.Read(g.pool[i])
	}
	return g
}

func (g *generator) Run(ctx context.Context, out chan<- source.Message) error {
	g.t0 <- time.Now()
	for i := range g.n {
		select {
		case out <- source.Message{Key: "m", Value: g.pool[i%len(g.pool)], Time: time.Now()}:
		case <-ctx.Done():
			return nil
		}
	}
	return nil
}

// DCMB streams generated messages from one company's node to another's
// on a local two-company consortium, delivered, verified and anchored in
// sealed mode, and measures the same messages through Mosquitto.
func DCMB(ctx context.Context, o DCMBOptions) (*DCMBResult, error) {
	if o.Messages <= 0 {
		o.Messages = 1_000_000
	}
	if o.Size <= 0 {
		o.Size = 256
	}
	if o.Interval <= 0 {
		o.Interval = time.Second
	}
	res := &DCMBResult{Size: o.Size, IntervalMs: ms(o.Interval), GOMAXPROCS: runtime.GOMAXPROCS(0)}

	o.progress("mosquitto: %d messages of %d bytes, QoS 0, one publisher, one subscriber...", o.Messages, o.Size)
	if err := res.mosquitto(ctx, o); err != nil {
		return nil, fmt.Errorf("mosquitto baseline: %w", err)
	}
	o.progress("mosquitto: %.0f msgs/s", res.MosquittoMsgsPerS)

	if err := res.commitCost(o); err != nil {
		return nil, err
	}
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
	owner, maker := c.Orgs[0], c.Orgs[1]
	archive := false
	rcv, err := dcmb.New(maker.Node, &dcmb.Config{Receive: []dcmb.ReceiveConfig{{Stream: "bench", From: owner.Name}}})
	if err != nil {
		return nil, err
	}
	snd, err := dcmb.New(owner.Node, &dcmb.Config{Streams: []dcmb.StreamConfig{{Name: "bench", Receiver: maker.Name,
		Interval: dcmb.Duration{Duration: o.Interval}, Archive: &archive, SpoolBytes: 16 << 30, Source: dcmb.SourceConfig{Kind: "stdin"}}}})
	if err != nil {
		return nil, err
	}
	gen := newGenerator(o.Messages, o.Size)
	if err := snd.SetSource("bench", gen); err != nil {
		return nil, err
	}
	rctx, stop := context.WithCancel(ctx)
	defer stop()
	done := make(chan struct{}, 2)
	go func() { rcv.Run(rctx); done <- struct{}{} }()
	go func() { snd.Run(rctx); done <- struct{}{} }()
	defer func() { stop(); <-done; <-done }()

	o.progress("dcmb: %d messages of %d bytes, interval %s, sealed mode...", o.Messages, o.Size, o.Interval)
	var t0 time.Time
	select {
	case t0 = <-gen.t0:
	case <-time.After(time.Minute):
		return nil, errors.New("the generator did not start")
	}
	n := uint64(o.Messages)
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
	res.Messages = n
	res.Seconds = elapsed.Seconds()
	res.MsgsPerS = float64(n) / elapsed.Seconds()
	delays := snd.Stats.AnchorDelays()
	res.Batches = len(delays)
	if len(delays) > 0 {
		res.AnchorLatencyP50 = ms(delays[len(delays)/2])
		res.AnchorLatencyMs = ms(delays[min(len(delays)-1, int(math.Ceil(float64(len(delays))*0.99))-1)])
		res.AnchorLatencyMax = ms(delays[len(delays)-1])
	}
	res.Txs = snd.Stats.Txs.Load()
	res.TxPerMillionMsgs = float64(res.Txs) / float64(n) * 1e6
	o.progress("dcmb: %.0f msgs/s delivered and anchored, %d txs", res.MsgsPerS, res.Txs)
	return res, nil
}

// commitCost measures one interval's commitment at the measured
// Mosquitto rate (at least 10,000 messages) in both modes.
func (res *DCMBResult) commitCost(o DCMBOptions) error {
	n := max(10_000, int(res.MosquittoMsgsPerS*o.Interval.Seconds()))
	n = min(n, o.Messages)
	g := newGenerator(0, o.Size)
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
	return nil
}
