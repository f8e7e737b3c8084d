package demo

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sealnet/sealnet/internal/syncbuf"

	"github.com/sealnet/sealnet/contract/compute"
	"github.com/sealnet/sealnet/ledger"
	"github.com/sealnet/sealnet/local"
)

// The compute scenario passes and prints every step; then nothing of the
// requester's inputs or output is on any node's chain (transactions,
// results, events of transactions and of block ends, job records) or in
// any log, at debug level.
func TestComputeDemo(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a consortium of four and builds a WebAssembly module")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var logs syncbuf.Buffer
	log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	var mu sync.Mutex
	var endEvents [][]byte
	var inputs [][]byte
	var output []byte
	var scanned bool
	var secrets [][]byte
	scan := func(where string, b []byte) {
		for _, s := range secrets {
			if bytes.Contains(b, s) {
				t.Errorf("%q leaked into %s", s, where)
				return
			}
		}
	}
	opt := ComputeOptions{Log: log,
		Started: func(c *local.Consortium) {
			for _, o := range c.Orgs {
				ch, _ := o.Node.Channel("default")
				ch.App.OnCommit(func(b *ledger.Block) {
					mu.Lock()
					defer mu.Unlock()
					for _, e := range b.Events {
						for _, a := range e.Attrs {
							endEvents = append(endEvents, []byte(a.Value))
						}
					}
				})
			}
		},
		Secrets: func(in [][]byte, out []byte) {
			inputs = append(inputs, in...)
			if out != nil {
				output = out
			}
		},
	}
	opt.Finished = func(c *local.Consortium) {
		// the secrets: every reading and every figure of the output
		for _, in := range inputs {
			for _, line := range strings.Split(string(in), "\n") {
				if line != "" && !strings.HasPrefix(line, "#") {
					_, v, _ := strings.Cut(line, ",")
					secrets = append(secrets, []byte(line), []byte(","+v+"\n"))
				}
			}
		}
		for _, f := range strings.Fields(string(output)) {
			if _, v, ok := strings.Cut(f, "="); ok && len(v) >= 5 {
				secrets = append(secrets, []byte(f))
			}
		}
		if len(secrets) < 8000 || len(output) == 0 {
			t.Errorf("%d secrets, output %q: the demo did not hand them over", len(secrets), output)
		}
		for _, o := range c.Orgs {
			ch, _ := o.Node.Channel("default")
			h, _ := ch.App.Height()
			for i := int64(1); i <= h; i++ {
				blk, err := ch.Block(i)
				if err != nil {
					t.Fatal(err)
				}
				for _, tx := range blk.Txs {
					scan(fmt.Sprintf("block %d of %s", i, o.Name), tx)
				}
			}
			ch.App.Results(1, func(r *ledger.TxResult) bool {
				scan("a result", r.Data)
				scan("a log", []byte(r.Log))
				for _, e := range r.Events {
					for _, a := range e.Attrs {
						scan("an event", []byte(a.Value))
					}
				}
				return true
			})
			raw, err := ch.App.QueryContract(compute.Name, "open", []byte{0xa0})
			if err == nil {
				scan("the open jobs", raw)
			}
		}
		mu.Lock()
		for _, e := range endEvents {
			scan("an end-of-block event", e)
		}
		mu.Unlock()
		scanned = true
	}
	var out bytes.Buffer
	err := Compute(ctx, &out, opt)
	t.Log(out.String())
	if err != nil {
		t.Fatal(err)
	}
	for _, step := range []string{"[1]", "[2]", "[3]", "[4]", "[5]", "[6]", "[7]", "NOT CONFIDENTIAL", "refused: \"the worker holds no claim on this job\"",
		"org4: job", "disagrees with the majority", "the same bytes: true", "all steps passed"} {
		if !strings.Contains(out.String(), step) {
			t.Fatalf("output lacks %q", step)
		}
	}
	// every worker line about the job says it is not confidential
	for _, line := range strings.Split(out.String(), "\n") {
		if strings.Contains(line, ": job ") && !strings.Contains(line, "NOT CONFIDENTIAL") {
			t.Fatalf("a line about a software-attested job without the mark: %s", line)
		}
	}
	if !scanned {
		t.Fatal("the chain was not scanned")
	}
	scan("the logs", logs.Bytes())
	scan("the demo's output, before step 7", []byte(strings.Split(out.String(), "[7]")[0]))
}
