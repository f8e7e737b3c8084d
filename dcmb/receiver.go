package dcmb

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/sealnet/sealnet/contract/audit"
	"github.com/sealnet/sealnet/evidence"
	"github.com/sealnet/sealnet/identity"
	"github.com/sealnet/sealnet/p2p"
)

// receiver is the receiving side of one stream.
type receiver struct {
	r     *Runtime
	cfg   ReceiveConfig
	log   *slog.Logger
	dir   string
	inbox *Dir
	hooks *webhook

	conn   sync.Mutex // one delivery connection at a time
	mu     sync.Mutex // guards secret
	next   uint64     // owned by the connection holding conn
	secret []byte
	out    *os.File
}

func newReceiver(r *Runtime, cfg ReceiveConfig) (*receiver, error) {
	dir := r.streamDir("receive", cfg.Stream)
	inbox, err := OpenDir(filepath.Join(dir, "inbox"))
	if err != nil {
		return nil, err
	}
	rv := &receiver{r: r, cfg: cfg, log: r.log.With("stream", cfg.Stream, "from", cfg.From), dir: dir, inbox: inbox}
	if raw, err := os.ReadFile(filepath.Join(dir, "next")); err == nil {
		if rv.next, err = strconv.ParseUint(string(trimNL(raw)), 10, 64); err != nil {
			return nil, fmt.Errorf("%s: %w", filepath.Join(dir, "next"), err)
		}
	} else if !os.IsNotExist(err) {
		return nil, err
	}
	if sec, err := readSecret(filepath.Join(dir, "secret"), nil); err == nil {
		rv.secret = sec
	} else if !os.IsNotExist(err) {
		return nil, err
	}
	if cfg.Output != "" {
		if rv.out, err = os.OpenFile(cfg.Output, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600); err != nil {
			return nil, err
		}
	}
	if cfg.Webhook != "" {
		rv.hooks = newWebhook(cfg.Webhook, rv.log)
	}
	return rv, nil
}

func (rv *receiver) close() {
	if rv.out != nil {
		rv.out.Close()
	}
	if rv.hooks != nil {
		rv.hooks.close()
	}
}

func (rv *receiver) saveNext(next uint64) error {
	p := filepath.Join(rv.dir, "next")
	if err := os.WriteFile(p+".tmp", []byte(strconv.FormatUint(next, 10)+"\n"), 0o600); err != nil {
		return err
	}
	if err := os.Rename(p+".tmp", p); err != nil {
		return err
	}
	rv.next = next
	return nil
}

// handle serves one delivery stream from a sender.
func (r *Runtime) handle(st network.Stream) {
	if !r.track(st) {
		st.Reset()
		return
	}
	defer r.untrack(st)
	defer st.Close()
	log := r.log.With("peer", st.Conn().RemotePeer())
	br := bufio.NewReaderSize(st, 256<<10)
	bw := bufio.NewWriter(st)
	reply := func(f any) error {
		if err := writeFrame(bw, encodeFrame(f)); err != nil {
			return err
		}
		return bw.Flush()
	}
	reject := func(seq uint64, format string, args ...any) {
		reason := fmt.Sprintf(format, args...)
		log.Warn("delivery rejected", "seq", seq, "reason", reason)
		reply(&Reject{Seq: seq, Reason: reason})
	}
	m, ok := r.n.Share().Gate.Lookup(st.Conn().RemotePeer())
	if !ok {
		reject(0, "peer is not an enrolled member")
		return
	}
	st.SetReadDeadline(time.Now().Add(30 * time.Second))
	raw, err := readFrame(br)
	if err != nil {
		reject(0, "hello: %v", err)
		return
	}
	f, err := DecodeFrame(raw)
	if err != nil {
		reject(0, "hello: %v", err)
		return
	}
	h, ok := f.(*Hello)
	if !ok {
		reject(0, "expected hello, got %T", f)
		return
	}
	rv := r.receivers[h.Stream]
	switch {
	case h.Channel != r.ch.Name:
		reject(0, "this node receives on channel %s, not %s", r.ch.Name, h.Channel)
		return
	case rv == nil:
		reject(0, "this node is not configured to receive stream %q", h.Stream)
		return
	case rv.cfg.From != m.Org:
		reject(0, "stream %q is received from %s, not %s", h.Stream, rv.cfg.From, m.Org)
		return
	}
	// the sender connects once its replica committed the first anchor; give
	// this replica the same chance
	cs, err := r.chainStream(h.Stream)
	for deadline := time.Now().Add(15 * time.Second); err == nil && cs == nil && time.Now().Before(deadline); {
		time.Sleep(50 * time.Millisecond)
		cs, err = r.chainStream(h.Stream)
	}
	switch {
	case err != nil:
		reject(0, "reading the chain: %v", err)
		return
	case cs == nil:
		reject(0, "stream %q has nothing anchored yet", h.Stream)
		return
	case cs.Org != m.Org || cs.Receiver != r.n.Config().Org:
		reject(0, "stream %q is anchored by %s for %s", h.Stream, cs.Org, cs.Receiver)
		return
	}
	if err := r.isAnchoringNode(cs, st.Conn().RemotePeer()); err != nil {
		reject(0, "%v", err)
		return
	}
	if !rv.conn.TryLock() {
		reject(0, "stream %q is already being delivered on another connection", h.Stream)
		return
	}
	defer rv.conn.Unlock()
	if h.Mode == audit.ModeSealed {
		if len(h.Secret) != 32 {
			reject(0, "sealed mode needs the 32-byte stream secret")
			return
		}
		rv.mu.Lock()
		held := rv.secret
		rv.mu.Unlock()
		if held == nil {
			if err := writeSecret(filepath.Join(rv.dir, "secret"), h.Secret); err != nil {
				reject(0, "storing the stream secret: %v", err)
				return
			}
			rv.mu.Lock()
			rv.secret = h.Secret
			rv.mu.Unlock()
		} else if !bytes.Equal(held, h.Secret) {
			reject(0, "the stream secret differs from the one this receiver holds")
			return
		}
	}
	if err := reply(&Welcome{Next: rv.next}); err != nil {
		return
	}
	for {
		st.SetReadDeadline(time.Now().Add(10 * time.Minute))
		b, err := rv.readBatch(br, h)
		if err != nil {
			if !errors.Is(err, errEOF) {
				reject(rv.next, "%v", err)
			}
			return
		}
		if err := rv.accept(b); err != nil {
			reject(b.FirstSeq, "%v", err)
			continue
		}
		if err := reply(&Ack{Next: rv.next}); err != nil {
			return
		}
	}
}

var errEOF = errors.New("end of stream")

// isAnchoringNode checks that the peer is the node whose certificate
// anchors the stream: another node of the same org cannot deliver (nor
// plant a stream secret).
func (r *Runtime) isAnchoringNode(cs *audit.Stream, p peer.ID) error {
	fp, err := identity.ParseFingerprint(cs.Sender)
	if err != nil {
		return fmt.Errorf("stream %q: sender %v", cs.Name, err)
	}
	m, revoked, err := r.ch.App.Certificate(fp)
	if err != nil {
		return fmt.Errorf("stream %q: the anchoring member's certificate: %v", cs.Name, err)
	}
	if revoked {
		return fmt.Errorf("stream %q is anchored by member %s, whose certificate is revoked", cs.Name, m.ID)
	}
	rec, err := r.ch.App.CertRecord(fp)
	if err != nil {
		return err
	}
	id, err := p2p.PeerOfCert(*rec)
	if err != nil {
		return err
	}
	if id != p {
		return fmt.Errorf("stream %q is anchored by %s@%s, not by this peer", cs.Name, m.ID, m.Org)
	}
	return nil
}

// readBatch reads a Head and the frames of its messages.
func (rv *receiver) readBatch(br *bufio.Reader, h *Hello) (*Batch, error) {
	next := func() (any, error) {
		raw, err := readFrame(br)
		if err != nil {
			return nil, err
		}
		return DecodeFrame(raw)
	}
	f, err := next()
	if err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, network.ErrReset) {
			return nil, errEOF
		}
		return nil, err
	}
	head, ok := f.(*Head)
	if !ok {
		return nil, fmt.Errorf("expected a batch head, got %T", f)
	}
	if head.Count == 0 || head.Count > maxBatchLen {
		return nil, fmt.Errorf("batch of %d messages", head.Count)
	}
	b := &Batch{Stream: h.Stream, Mode: h.Mode, FirstSeq: head.FirstSeq, Count: head.Count}
	seq := head.FirstSeq
	if h.Deliver == DeliverHashes {
		b.Msgs = nil
		for uint64(len(b.Leaves)) < head.Count {
			f, err := next()
			if err != nil {
				return nil, err
			}
			l, ok := f.(*Leaves)
			if !ok {
				return nil, fmt.Errorf("expected leaves of the batch at %d, got %T", head.FirstSeq, f)
			}
			if uint64(len(b.Leaves)+len(l.Leaves)) > head.Count {
				return nil, fmt.Errorf("batch at %d holds more than its %d messages", head.FirstSeq, head.Count)
			}
			b.Leaves = append(b.Leaves, l.Leaves...)
			for i := range l.Leaves {
				b.Msgs = append(b.Msgs, Message{Seq: seq, Key: l.Keys[i], Time: l.Times[i]})
				seq++
			}
		}
		return b, nil
	}
	b.Msgs = make([]Message, 0, min(head.Count, 1<<16))
	for uint64(len(b.Msgs)) < head.Count {
		f, err := next()
		if err != nil {
			return nil, err
		}
		c, ok := f.(*Chunk)
		if !ok {
			return nil, fmt.Errorf("expected messages of the batch at %d, got %T", head.FirstSeq, f)
		}
		for _, m := range c.Msgs {
			if m.Seq != seq {
				return nil, fmt.Errorf("message %d where %d was due (reordered, duplicated or missing)", m.Seq, seq)
			}
			if uint64(len(b.Msgs)) == head.Count {
				return nil, fmt.Errorf("batch at %d holds more than its %d messages", head.FirstSeq, head.Count)
			}
			b.Msgs = append(b.Msgs, m)
			seq++
		}
	}
	return b, nil
}

// accept verifies a batch against the chain, stores it and acts on it.
func (rv *receiver) accept(b *Batch) error {
	if b.FirstSeq+b.Count <= rv.next {
		return nil // delivered before (the ack was lost): acknowledge again
	}
	if b.FirstSeq > rv.next {
		if err := rv.skipGap(b.FirstSeq); err != nil {
			return err
		}
	}
	if b.FirstSeq != rv.next {
		return fmt.Errorf("batch at %d overlaps what was received (next is %d)", b.FirstSeq, rv.next)
	}
	cb, err := rv.anchored(b.FirstSeq)
	if err != nil {
		return err
	}
	if cb.Count != b.Count || cb.Mode != b.Mode {
		return fmt.Errorf("batch at %d: %d %s messages delivered, %d %s anchored", b.FirstSeq, b.Count, b.Mode, cb.Count, cb.Mode)
	}
	root, _ := hex.DecodeString(cb.Root)
	b.PaperSalt, _ = hex.DecodeString(cb.Salt)
	b.Start, b.End = cb.IntervalStart, cb.IntervalEnd
	var sec evidence.StreamSecret
	copy(sec[:], rv.secret)
	var leaves [][]byte
	if b.Mode == audit.ModeSealed {
		leaves = b.LeafHashes(sec)
		b.Root = evidence.RootOf(leaves)
	} else {
		b.Root = b.ComputeRoot(sec)
	}
	if !bytes.Equal(b.Root, root) {
		return fmt.Errorf("batch at %d: %w in tx %s", b.FirstSeq, ErrRoot, cb.TXNumber)
	}
	b.Created = time.Now().UnixNano()
	stored := *b
	if b.Leaves != nil {
		stored.Msgs = nil
	}
	if err := rv.inbox.Put(&stored); err != nil {
		return fmt.Errorf("storing the batch: %w", err)
	}
	if err := rv.saveNext(b.FirstSeq + b.Count); err != nil {
		return fmt.Errorf("storing the stream position: %w", err)
	}
	rv.r.Stats.Received.Add(b.Count)
	rv.deliver(b, sec, leaves)
	return nil
}

// anchored waits briefly for this node's replica to commit the batch.
func (rv *receiver) anchored(first uint64) (*audit.Batch, error) {
	deadline := time.Now().Add(15 * time.Second)
	for {
		cb, err := rv.r.chainBatch(rv.cfg.Stream, first)
		if err != nil {
			return nil, err
		}
		if cb != nil {
			if cb.Dropped != "" {
				return nil, fmt.Errorf("batch at %d is recorded as dropped (%s)", first, cb.Dropped)
			}
			return cb, nil
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("batch at %d is not anchored on chain", first)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// skipGap advances over ranges the chain records as dropped or given up.
func (rv *receiver) skipGap(to uint64) error {
	next := rv.next
	for next < to {
		cb, err := rv.r.chainBatch(rv.cfg.Stream, next)
		if err != nil {
			return err
		}
		if cb == nil || (cb.Dropped == "" && cb.Undelivered == "") {
			return fmt.Errorf("batch at %d skips messages %d-%d that the chain does not record as dropped", to, rv.next, to-1)
		}
		reason := cb.Dropped + cb.Undelivered
		rv.log.Warn("sender dropped a range, recorded on chain", "first_seq", next, "count", cb.Count, "reason", reason)
		next += cb.Count
	}
	if next != to {
		return fmt.Errorf("batch at %d does not start where a dropped range ends (%d)", to, next)
	}
	return rv.saveNext(next)
}

// deliver writes the batch's messages to the output and fires the actions
// whose candidate matches (Algorithm 2: leaf == hash(candidate + salt)).
func (rv *receiver) deliver(b *Batch, sec evidence.StreamSecret, leaves [][]byte) {
	var w *bufio.Writer
	if rv.out != nil && b.Leaves == nil {
		w = bufio.NewWriterSize(rv.out, 256<<10)
	}
	salter, leafer := sec.Salter(b.Stream), evidence.NewLeafer()
	for i, m := range b.Msgs {
		if w != nil {
			line, _ := json.Marshal(outputLine{Stream: b.Stream, Seq: m.Seq, Key: m.Key, Value: valueText(m.Value), Time: time.Unix(0, m.Time).UTC().Format(time.RFC3339Nano)})
			w.Write(append(line, '\n'))
		}
		for _, a := range rv.cfg.Actions {
			if a.Key != "" && a.Key != m.Key {
				continue
			}
			var hit bool
			if b.Mode == audit.ModeSealed {
				hit = bytes.Equal(leaves[i], leafer.Leaf(salter.Salt(m.Seq), m.Seq, m.Key, []byte(a.Equals)))
			} else {
				hit = bytes.Equal(m.Value, []byte(a.Equals))
			}
			if hit {
				rv.log.Info("action fired", "action", a.Name, "seq", m.Seq)
				if rv.hooks != nil {
					rv.hooks.post(actionNotice(a.Name, b.Stream, m.Seq))
				}
			}
		}
	}
	if w != nil {
		if err := w.Flush(); err == nil {
			err = rv.out.Sync()
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
