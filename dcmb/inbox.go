package dcmb

// This file holds a received stream's files: its inbox of verified
// batches, its position and secret, and the output and webhook its
// messages and actions go to.

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/sealnet/sealnet/dcmb/core"
	"github.com/sealnet/sealnet/durable"
)

// inbox is the receiving side of one stream on disk.
type inbox struct {
	cfg   ReceiveConfig
	log   *slog.Logger
	dir   string
	inbox *Dir
	hooks *webhook
	out   *outputFile // nil without an output file

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
		if in.out, err = openOutput(cfg.Output); err != nil {
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
		in.out.f.Close()
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

// saveNext stores the stream's position, durably.
func (in *inbox) saveNext(next uint64) error {
	return durable.WriteFile(filepath.Join(in.dir, "next"), []byte(strconv.FormatUint(next, 10)+"\n"), 0o600)
}

// store keeps a verified batch: in the inbox, then in the output file,
// then the stream's position, each durably and in that order. Only then
// is the batch acknowledged (the core acks on a nil error): a write that
// fails stops the acknowledgement, the sender delivers the batch again,
// and the output file, which skips what it already holds, gets each
// message once.
func (in *inbox) store(b *Batch, next uint64) error {
	if err := in.inbox.Put(b); err != nil {
		return fmt.Errorf("storing the batch: %w", err)
	}
	if in.out != nil && b.Leaves == nil {
		if err := in.out.write(b); err != nil {
			return fmt.Errorf("writing the output file %s: %w", in.cfg.Output, err)
		}
	}
	if err := in.saveNext(next); err != nil {
		return fmt.Errorf("storing the stream position: %w", err)
	}
	return nil
}

// output fires the actions a stored batch's messages matched.
func (in *inbox) output(b *Batch, fired []core.Fired) {
	for _, f := range fired {
		in.log.Info("action fired", "action", f.Action, "seq", f.Seq)
		if in.hooks != nil {
			in.hooks.post(actionNotice(f.Action, b.Stream, f.Seq))
		}
	}
}

// outputFile is a received stream's JSON-lines output: one line per
// message, in sequence order, each message once.
type outputFile struct {
	f    *os.File
	size int64  // the file's length: everything before it is whole lines
	next uint64 // the sequence number after the last line's
}

// openOutput opens the output file for appending: a last line a crash
// left torn is cut off, and the last whole line says where the file is.
func openOutput(path string) (*outputFile, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	o := &outputFile{f: f}
	if err := o.recover(); err != nil {
		f.Close()
		return nil, fmt.Errorf("output file %s: %w", path, err)
	}
	return o, nil
}

func (o *outputFile) recover() error {
	fi, err := o.f.Stat()
	if err != nil {
		return err
	}
	size := fi.Size()
	tail := make([]byte, min(size, 1<<20))
	if _, err := o.f.ReadAt(tail, size-int64(len(tail))); err != nil {
		return err
	}
	end := bytes.LastIndexByte(tail, '\n') + 1 // after the last whole line
	o.size = size - int64(len(tail)) + int64(end)
	if o.size < size {
		if err := o.f.Truncate(o.size); err != nil {
			return err
		}
	}
	if end > 0 {
		start := bytes.LastIndexByte(tail[:end-1], '\n') + 1
		var last outputLine
		if err := json.Unmarshal(tail[start:end-1], &last); err != nil {
			return fmt.Errorf("last line: %w", err)
		}
		o.next = last.Seq + 1
	}
	_, err = o.f.Seek(o.size, io.SeekStart)
	return err
}

// write appends the messages of b the file does not hold yet and syncs
// it; on an error it cuts what it wrote, so the file stays whole lines.
func (o *outputFile) write(b *Batch) error {
	var buf bytes.Buffer
	last := o.next
	for _, m := range b.Msgs {
		if m.Seq < o.next {
			continue // written before the acknowledgement was lost
		}
		line, _ := json.Marshal(outputLine{Stream: b.Stream, Seq: m.Seq, Key: m.Key, Value: valueText(m.Value),
			Time: time.Unix(0, m.Time).UTC().Format(time.RFC3339Nano)})
		buf.Write(append(line, '\n'))
		last = m.Seq + 1
	}
	if buf.Len() == 0 {
		return nil
	}
	_, err := o.f.Write(buf.Bytes())
	if err == nil {
		err = o.f.Sync()
	}
	if err != nil {
		if terr := o.f.Truncate(o.size); terr == nil {
			o.f.Seek(o.size, io.SeekStart)
		}
		return err
	}
	o.size += int64(buf.Len())
	o.next = last
	return nil
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
