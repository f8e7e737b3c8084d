package dcmb

// This file holds a received stream's files: its inbox of verified
// batches, its position and secret, and the output and webhook its
// messages and actions go to.

import (
	"bufio"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/sealnet/sealnet/dcmb/core"
)

// inbox is the receiving side of one stream on disk.
type inbox struct {
	cfg   ReceiveConfig
	log   *slog.Logger
	dir   string
	inbox *Dir
	hooks *webhook
	out   *os.File

	conn   sync.Mutex // held by the one delivery connection of the stream
	mu     sync.Mutex // guards secret
	secret []byte
}

func newInbox(r *Runtime, cfg ReceiveConfig) (*inbox, error) {
	dir := r.streamDir("receive", cfg.Stream)
	d, err := OpenDir(filepath.Join(dir, "inbox"))
	if err != nil {
		return nil, err
	}
	in := &inbox{cfg: cfg, log: r.log.With("stream", cfg.Stream, "from", cfg.From), dir: dir, inbox: d}
	var next uint64
	if raw, err := os.ReadFile(filepath.Join(dir, "next")); err == nil {
		if next, err = strconv.ParseUint(string(trimNL(raw)), 10, 64); err != nil {
			return nil, fmt.Errorf("%s: %w", filepath.Join(dir, "next"), err)
		}
	} else if !os.IsNotExist(err) {
		return nil, err
	}
	if sec, err := readSecret(filepath.Join(dir, "secret"), nil); err == nil {
		in.secret = sec
	} else if !os.IsNotExist(err) {
		return nil, err
	}
	if cfg.Output != "" {
		if in.out, err = os.OpenFile(cfg.Output, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600); err != nil {
			return nil, err
		}
	}
	if cfg.Webhook != "" {
		in.hooks = newWebhook(cfg.Webhook, in.log)
	}
	var cands []core.Candidate
	for _, a := range cfg.Actions {
		cands = append(cands, core.Candidate{Name: a.Name, Key: a.Key, Equals: a.Equals})
	}
	r.recv.Add(core.InboxConfig{Stream: cfg.Stream, From: cfg.From, Candidates: cands}, next, in.secret)
	return in, nil
}

func (in *inbox) close() {
	if in.out != nil {
		in.out.Close()
	}
	if in.hooks != nil {
		in.hooks.close()
	}
}

// heldSecret is the stream secret, once received.
func (in *inbox) heldSecret() []byte {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.secret
}

// storeSecret keeps the stream secret received on first contact,
// durably.
func (in *inbox) storeSecret(secret []byte) error {
	if err := writeSecret(filepath.Join(in.dir, "secret"), secret); err != nil {
		return err
	}
	in.mu.Lock()
	in.secret = secret
	in.mu.Unlock()
	return nil
}

// saveNext stores the stream's position.
func (in *inbox) saveNext(next uint64) error {
	p := filepath.Join(in.dir, "next")
	if err := os.WriteFile(p+".tmp", []byte(strconv.FormatUint(next, 10)+"\n"), 0o600); err != nil {
		return err
	}
	return os.Rename(p+".tmp", p)
}

// store writes a verified batch to the inbox, durably, then the position.
func (in *inbox) store(b *Batch, next uint64) error {
	if err := in.inbox.Put(b); err != nil {
		return fmt.Errorf("storing the batch: %w", err)
	}
	if err := in.saveNext(next); err != nil {
		return fmt.Errorf("storing the stream position: %w", err)
	}
	return nil
}

// output writes a stored batch's messages to the output file (values
// only) and fires the actions its messages matched.
func (in *inbox) output(b *Batch, fired []core.Fired) {
	if in.out != nil && b.Leaves == nil {
		w := bufio.NewWriterSize(in.out, 256<<10)
		for _, m := range b.Msgs {
			line, _ := json.Marshal(outputLine{Stream: b.Stream, Seq: m.Seq, Key: m.Key, Value: valueText(m.Value),
				Time: time.Unix(0, m.Time).UTC().Format(time.RFC3339Nano)})
			w.Write(append(line, '\n'))
		}
		if err := w.Flush(); err == nil {
			in.out.Sync()
		}
	}
	for _, f := range fired {
		in.log.Info("action fired", "action", f.Action, "seq", f.Seq)
		if in.hooks != nil {
			in.hooks.post(actionNotice(f.Action, b.Stream, f.Seq))
		}
	}
}

type outputLine struct {
	Stream string `json:"stream"`
	Seq    uint64 `json:"seq"`
	Key    string `json:"key"`
	Value  string `json:"value"`
	Time   string `json:"time"`
}

func valueText(v []byte) string {
	if utf8.Valid(v) {
		return string(v)
	}
	return "0x" + hex.EncodeToString(v)
}
