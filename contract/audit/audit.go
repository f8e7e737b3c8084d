// Package audit is the contract that anchors paper 000's evidence: per
// stream and interval, one batch of salted message commitments (its Merkle
// root, message count and sequence range), and every range a sender had to
// drop, so that nothing disappears silently. Sequence numbers must follow
// on without gaps: a gap is either anchored or recorded as dropped.
//
// A stream whose first anchor names a module purpose is a certified
// stream: each of its anchors names the module that processed the batch
// (the SHA-256 of its bytes), and the contract refuses an anchor whose
// module the certify contract does not hold certified for that purpose on
// the channel in the anchor's block. A stream whose first anchor names no
// purpose stays uncertified (the rule-based streams of the DCMB's
// configuration) and its anchors name no module.
package audit

import (
	"encoding/binary"
	"encoding/hex"
	"strings"
	"unicode/utf8"

	"github.com/sealnet/sealnet/canon"
	"github.com/sealnet/sealnet/certify/manifest"
	"github.com/sealnet/sealnet/contract"
	"github.com/sealnet/sealnet/contract/certify"
	"github.com/sealnet/sealnet/identity"
	"github.com/sealnet/sealnet/txerr"
)

// Name is the contract's name.
const Name = "audit"

// Commitment modes.
const (
	ModeSealed = "sealed" // per-message salts from a secret shared with the receiver; roots only on chain
	ModePaper  = "paper"  // Argon2id over the interval with the salt published, as paper 000
)

// MaxBatch bounds the messages of one batch.
const MaxBatch = 10_000_000

// Key layout under the contract's prefix.
const (
	pStream = "s/"
	pBatch  = "b/"
)

// Stream is a stream's anchoring state.
type Stream struct {
	Name     string `cbor:"name" json:"name"`
	Sender   string `cbor:"sender" json:"sender"` // fingerprint of the member that anchors it
	Org      string `cbor:"org" json:"org"`
	Receiver string `cbor:"receiver,omitempty" json:"receiver,omitempty"` // org receiving the messages
	Next     uint64 `cbor:"next" json:"next"`                             // next sequence number expected
	Batches  uint64 `cbor:"batches" json:"batches"`
	Dropped  uint64 `cbor:"dropped" json:"dropped"` // messages recorded as dropped before anchoring
	// Undelivered counts anchored messages the receiver never acknowledged
	// (the sender gave them up after its spool timeout).
	Undelivered uint64 `cbor:"undelivered" json:"undelivered"`
	// Purpose is the module purpose the stream's first anchor fixed; ""
	// for an uncertified stream.
	Purpose string `cbor:"purpose,omitempty" json:"purpose,omitempty"`
}

// Batch is one anchored (or dropped) range.
type Batch struct {
	Stream        string `cbor:"stream" json:"stream"`
	FirstSeq      uint64 `cbor:"first_seq" json:"first_seq"`
	Count         uint64 `cbor:"count" json:"count"`
	Root          string `cbor:"root,omitempty" json:"root,omitempty"` // hex; Merkle root (sealed) or Argon2id hash (paper)
	Mode          string `cbor:"mode,omitempty" json:"mode,omitempty"`
	Salt          string `cbor:"salt,omitempty" json:"salt,omitempty"` // hex, paper mode only
	IntervalStart int64  `cbor:"interval_start" json:"interval_start"` // Unix ns, sender's clock
	IntervalEnd   int64  `cbor:"interval_end" json:"interval_end"`
	Dropped       string `cbor:"dropped,omitempty" json:"dropped,omitempty"`         // the reason, for a range dropped before anchoring
	Undelivered   string `cbor:"undelivered,omitempty" json:"undelivered,omitempty"` // the reason, for an anchored batch never delivered
	Module        string `cbor:"module,omitempty" json:"module,omitempty"`           // hex; the certified module that processed the batch
	Height        int64  `cbor:"height" json:"height"`
	TXNumber      string `cbor:"tx_number" json:"tx_number"`
}

// AnchorArgs anchors one batch.
type AnchorArgs struct {
	Stream        string `cbor:"stream"`
	Receiver      string `cbor:"receiver,omitempty"`
	FirstSeq      uint64 `cbor:"first_seq"`
	Count         uint64 `cbor:"count"`
	Root          []byte `cbor:"root"`
	Mode          string `cbor:"mode"`
	Salt          []byte `cbor:"salt,omitempty"`
	IntervalStart int64  `cbor:"interval_start"`
	IntervalEnd   int64  `cbor:"interval_end"`
	// Purpose, on a stream's first anchor, makes it a certified stream for
	// that module purpose; a later anchor may repeat it.
	Purpose string `cbor:"purpose,omitempty"`
	// Module is the SHA-256 of the module that processed the batch: on
	// every anchor of a certified stream, on none of another.
	Module []byte `cbor:"module,omitempty"`
}

// DropArgs records a range that was never delivered: either the next
// range of the stream, dropped before it could be anchored (consuming its
// sequence numbers), or exactly one anchored batch whose delivery was given
// up.
type DropArgs struct {
	Stream   string `cbor:"stream"`
	FirstSeq uint64 `cbor:"first_seq"`
	Count    uint64 `cbor:"count"`
	Reason   string `cbor:"reason"`
	At       int64  `cbor:"at"` // Unix ns, sender's clock
}

// Contract is the audit contract.
type Contract struct{}

// New returns the audit contract.
func New() Contract { return Contract{} }

// Name implements contract.Contract.
func (Contract) Name() string { return Name }

// Methods implements contract.Contract.
func (c Contract) Methods() map[string]contract.Method {
	senders := []identity.Role{identity.RoleNode, identity.RoleClient, identity.RoleAdmin}
	return map[string]contract.Method{
		"anchor": {Roles: senders, Run: c.anchor},
		"drop":   {Roles: senders, Run: c.drop},
	}
}

func validStream(s string) bool {
	return s != "" && len(s) <= 128 && utf8.ValidString(s) && !strings.ContainsRune(s, 0)
}

// stream loads a stream's state, creating it for its first sender.
func stream(ctx *contract.Context, st contract.State, name, receiver string) (*Stream, error) {
	if !validStream(name) {
		return nil, txerr.New(txerr.BadArgs, "stream name must be 1-128 bytes of UTF-8 without NUL")
	}
	raw, err := st.Get(append(append([]byte{}, pStream...), name...))
	if err != nil {
		return nil, err
	}
	if raw == nil {
		return &Stream{Name: name, Sender: ctx.Caller.Fingerprint.String(), Org: ctx.Caller.Org, Receiver: receiver}, nil
	}
	var s Stream
	if err := canon.Unmarshal(raw, &s); err != nil {
		return nil, txerr.New(txerr.Internal, "stream record: %v", err)
	}
	if s.Sender != ctx.Caller.Fingerprint.String() {
		return nil, txerr.New(txerr.RoleDenied, "stream %s is anchored by another member", name)
	}
	return &s, nil
}

func save(st contract.State, s *Stream, b *Batch) error {
	if err := st.Set(append(append([]byte{}, pStream...), s.Name...), canon.MustMarshal(s)); err != nil {
		return err
	}
	return st.Set(batchKey(b.Stream, b.FirstSeq), canon.MustMarshal(b))
}

func batchKey(stream string, first uint64) []byte {
	k := append(append(append([]byte{}, pBatch...), stream...), 0)
	return binary.BigEndian.AppendUint64(k, first)
}

func checkRange(s *Stream, first, count uint64) error {
	if count == 0 || count > MaxBatch {
		return txerr.New(txerr.BadArgs, "count %d: want 1-%d", count, MaxBatch)
	}
	if first != s.Next {
		return txerr.New(txerr.Rejected, "stream %s continues at sequence %d, not %d: anchor or drop the range in between", s.Name, s.Next, first)
	}
	return nil
}

func (c Contract) anchor(ctx *contract.Context, st contract.State, raw []byte) ([]byte, error) {
	var a AnchorArgs
	if err := contract.DecodeArgs("anchor", raw, &a); err != nil {
		return nil, err
	}
	s, err := stream(ctx, st, a.Stream, a.Receiver)
	if err != nil {
		return nil, err
	}
	if err := checkRange(s, a.FirstSeq, a.Count); err != nil {
		return nil, err
	}
	if len(a.Root) != 32 {
		return nil, txerr.New(txerr.BadArgs, "root is %d bytes, want 32", len(a.Root))
	}
	switch a.Mode {
	case ModeSealed:
		if len(a.Salt) != 0 {
			return nil, txerr.New(txerr.BadArgs, "sealed mode publishes no salt")
		}
	case ModePaper:
		if len(a.Salt) < 16 || len(a.Salt) > 64 {
			return nil, txerr.New(txerr.BadArgs, "paper mode needs a 16-64 byte salt")
		}
	default:
		return nil, txerr.New(txerr.BadArgs, "mode %q: want sealed or paper", a.Mode)
	}
	if a.IntervalEnd < a.IntervalStart {
		return nil, txerr.New(txerr.BadArgs, "interval ends before it starts")
	}
	if err := checkModule(ctx, s, &a); err != nil {
		return nil, err
	}
	b := &Batch{Stream: a.Stream, FirstSeq: a.FirstSeq, Count: a.Count, Root: hex.EncodeToString(a.Root), Mode: a.Mode,
		Salt: hex.EncodeToString(a.Salt), IntervalStart: a.IntervalStart, IntervalEnd: a.IntervalEnd,
		Module: hex.EncodeToString(a.Module), Height: ctx.Height, TXNumber: hex.EncodeToString(ctx.TxID[:])}
	s.Next += a.Count
	s.Batches++
	if err := save(st, s, b); err != nil {
		return nil, err
	}
	attrs := []contract.Attr{{Key: "stream", Value: s.Name}, {Key: "root", Value: b.Root}}
	if b.Module != "" {
		attrs = append(attrs, contract.Attr{Key: "module", Value: b.Module})
	}
	ctx.Emit("anchored", s.Receiver, attrs...)
	return contract.Result(b)
}

// checkModule applies the stream's module purpose to an anchor: the
// stream's first anchor fixes it (or leaves the stream uncertified), and
// every anchor of a certified stream names a module the certify contract
// holds certified for it on this channel in this block.
func checkModule(ctx *contract.Context, s *Stream, a *AnchorArgs) error {
	if s.Batches == 0 && a.Purpose != "" {
		if err := manifest.CheckName("purpose", a.Purpose); err != nil {
			return txerr.New(txerr.BadArgs, "%v", err)
		}
		s.Purpose = a.Purpose
	}
	if a.Purpose != "" && a.Purpose != s.Purpose {
		if s.Purpose == "" {
			return txerr.New(txerr.Rejected, "stream %s was started without a module purpose: it stays uncertified", s.Name)
		}
		return txerr.New(txerr.Rejected, "stream %s is for module purpose %s, not %s", s.Name, s.Purpose, a.Purpose)
	}
	if s.Purpose == "" {
		if len(a.Module) != 0 {
			return txerr.New(txerr.Rejected, "stream %s has no module purpose: only the anchors of a stream whose first anchor named one name a module", s.Name)
		}
		return nil
	}
	if len(a.Module) == 0 {
		return txerr.New(txerr.Rejected, "stream %s needs a module certified for %s: the anchor names none", s.Name, s.Purpose)
	}
	if len(a.Module) != 32 {
		return txerr.New(txerr.BadArgs, "module hash is %d bytes, want 32", len(a.Module))
	}
	return certify.Check(ctx.Read(certify.Name), ctx.Channel, s.Purpose, a.Module, ctx.Height)
}

func (c Contract) drop(ctx *contract.Context, st contract.State, raw []byte) ([]byte, error) {
	var a DropArgs
	if err := contract.DecodeArgs("drop", raw, &a); err != nil {
		return nil, err
	}
	s, err := stream(ctx, st, a.Stream, "")
	if err != nil {
		return nil, err
	}
	if a.Reason == "" || len(a.Reason) > 128 || !utf8.ValidString(a.Reason) {
		return nil, txerr.New(txerr.BadArgs, "a drop needs a reason of at most 128 bytes of UTF-8")
	}
	if a.Count > 0 && a.FirstSeq < s.Next {
		return c.undelivered(ctx, st, s, a)
	}
	if err := checkRange(s, a.FirstSeq, a.Count); err != nil {
		return nil, err
	}
	b := &Batch{Stream: a.Stream, FirstSeq: a.FirstSeq, Count: a.Count, Dropped: a.Reason,
		IntervalStart: a.At, IntervalEnd: a.At, Height: ctx.Height, TXNumber: hex.EncodeToString(ctx.TxID[:])}
	s.Next += a.Count
	s.Dropped += a.Count
	if err := save(st, s, b); err != nil {
		return nil, err
	}
	ctx.Emit("dropped", s.Receiver, contract.Attr{Key: "stream", Value: s.Name}, contract.Attr{Key: "reason", Value: a.Reason})
	return contract.Result(b)
}

// undelivered marks an anchored batch as never delivered.
func (c Contract) undelivered(ctx *contract.Context, st contract.State, s *Stream, a DropArgs) ([]byte, error) {
	raw, err := st.Get(batchKey(a.Stream, a.FirstSeq))
	if err != nil {
		return nil, err
	}
	var b Batch
	if raw != nil {
		if err := canon.Unmarshal(raw, &b); err != nil {
			return nil, txerr.New(txerr.Internal, "batch record: %v", err)
		}
	}
	if raw == nil || b.Dropped != "" || b.Count != a.Count {
		return nil, txerr.New(txerr.Rejected, "stream %s has no anchored batch of %d messages at sequence %d", s.Name, a.Count, a.FirstSeq)
	}
	if b.Undelivered != "" {
		return nil, txerr.New(txerr.Rejected, "batch %d of stream %s is already recorded as undelivered", a.FirstSeq, s.Name)
	}
	b.Undelivered = a.Reason
	s.Undelivered += a.Count
	if err := save(st, s, &b); err != nil {
		return nil, err
	}
	ctx.Emit("undelivered", s.Receiver, contract.Attr{Key: "stream", Value: s.Name}, contract.Attr{Key: "reason", Value: a.Reason})
	return contract.Result(b)
}

// Query implements contract.Contract: "stream" (its state), "batch" (the
// range starting at first_seq) and "batches" (every anchored or dropped
// range of a stream, in sequence order).
func (c Contract) Query(st contract.State, method string, raw []byte) ([]byte, error) {
	var a struct {
		Stream   string `cbor:"stream"`
		FirstSeq uint64 `cbor:"first_seq,omitempty"`
	}
	if err := contract.DecodeArgs(method, raw, &a); err != nil {
		return nil, err
	}
	switch method {
	case "stream":
		v, err := st.Get(append(append([]byte{}, pStream...), a.Stream...))
		if err != nil {
			return nil, err
		}
		if v == nil {
			return nil, txerr.New(txerr.NotFound, "no stream %q", a.Stream)
		}
		return v, nil
	case "batch":
		v, err := st.Get(batchKey(a.Stream, a.FirstSeq))
		if err != nil {
			return nil, err
		}
		if v == nil {
			return nil, txerr.New(txerr.NotFound, "stream %q has no batch at sequence %d", a.Stream, a.FirstSeq)
		}
		return v, nil
	case "batches":
		return contract.List[Batch](st, append(append(append([]byte{}, pBatch...), a.Stream...), 0), nil)
	}
	return nil, txerr.New(txerr.UnknownMethod, "audit has no query %q", method)
}
