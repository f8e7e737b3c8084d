package core

// This file holds the receiving side: the streams a node accepts
// (Receiver, Inbox), one delivery connection (Session) with its events
// and actions, and the hello that opens it. Batches are in accept.go.

import (
	"bytes"
	"fmt"
	"log/slog"
	"time"

	"github.com/sealnet/sealnet/contract/audit"
	"github.com/sealnet/sealnet/dcmb/wire"
)

// Candidate is a receiver's action: it fires when a delivered message of
// Key equals Equals, tested as Algorithm 2 does (leaf == hash(candidate +
// salt)), so it works on leaf hashes alone.
type Candidate struct {
	Name   string
	Key    string // "" any
	Equals string
}

// InboxConfig is one stream a node receives.
type InboxConfig struct {
	Stream     string
	From       string // the sending org
	Candidates []Candidate
}

// Inbox is the receiving state of one stream. Only the Session that
// acquired the stream changes it.
type Inbox struct {
	cfg    InboxConfig
	next   uint64 // every sequence number below is stored or recorded as given up
	secret []byte // sealed mode: the stream secret, once received
}

// Receiver is a node's receiving side on one channel.
type Receiver struct {
	channel, org string
	inboxes      map[string]*Inbox
}

// NewReceiver returns the receiving side of this node (of org) on channel.
func NewReceiver(channel, org string) *Receiver {
	return &Receiver{channel: channel, org: org, inboxes: map[string]*Inbox{}}
}

// Add accepts a stream, resuming at next with the secret held (nil:
// none yet). Add every stream before the first Open.
func (r *Receiver) Add(cfg InboxConfig, next uint64, secret []byte) {
	r.inboxes[cfg.Stream] = &Inbox{cfg: cfg, next: next, secret: secret}
}

// Open starts a Session for one delivery connection.
func (r *Receiver) Open() *Session { return &Session{r: r, want: WaitPeer} }

// Wait says what a Session expects next from the connection.
type Wait int

const (
	WaitPeer  Wait = iota // the peer's org (Peer)
	WaitHello             // a Hello frame
	WaitHead              // a batch's Head, or the end of the connection
	WaitBody              // the frames of the announced batch
	WaitNone              // nothing: the connection ends
	waitReply             // the answer to the last request
)

// Session events.
type (
	// Peer says who connected: the org of the enrolled member whose node
	// the peer is, or Known false.
	Peer struct {
		Org   string
		Known bool
	}
	// Frame is a frame read from the connection, or the error reading
	// it; End says the peer ended the connection between frames.
	Frame struct {
		F   any
		Err error
		End bool
	}
	// StreamRecord answers ReadStream.
	StreamRecord struct {
		Record *audit.Stream // nil: nothing anchored
		Err    error
	}
	// PeerChecked answers CheckPeer: nil if the peer is the node whose
	// certificate anchors the stream.
	PeerChecked struct{ Err error }
	// Acquired answers Acquire: false if another connection holds the
	// stream.
	Acquired struct{ OK bool }
	// SecretStored answers StoreSecret.
	SecretStored struct{ Err error }
	// Record answers ReadRecord.
	Record struct {
		Record *audit.Batch // nil: no range starts there
		Err    error
	}
	// Saved answers SaveNext.
	Saved struct{ Err error }
	// Stored answers Store; Err says which write failed.
	Stored struct{ Err error }
)

// Session actions. The requests are answered by the event of the same
// name.
type (
	// Reply asks for a frame to be written: Welcome, Ack or Reject.
	Reply struct{ F any }
	// ReadStream asks for the chain's record of a stream, waiting a
	// little for this replica to commit the stream's first anchor.
	ReadStream struct{ Stream string }
	// CheckPeer asks whether the peer is the node whose certificate
	// anchors the stream (Record.Sender): another node of the same org
	// may neither deliver nor plant a secret.
	CheckPeer struct{ Record *audit.Stream }
	// Acquire asks for the stream to be held by this connection: one
	// delivery connection per stream.
	Acquire struct{ Stream string }
	// StoreSecret asks for the stream secret to be stored durably.
	StoreSecret struct {
		Stream string
		Secret []byte
	}
	// ReadRecord asks for the chain's record of the range starting at
	// First; Wait: give this replica a little time to commit it.
	ReadRecord struct {
		Stream string
		First  uint64
		Wait   bool
	}
	// SaveNext asks for the stream's position to be stored.
	SaveNext struct {
		Stream string
		Next   uint64
	}
	// Store asks for a verified batch to be stored durably: in the inbox,
	// in the output the receiver keeps of its messages, then the stream's
	// position Next. The batch is acknowledged only once Stored says all
	// of it is.
	Store struct {
		Batch *wire.Batch
		Next  uint64
	}
	// Output hands a stored batch to the receiver's actions: Fired are the
	// candidates its messages matched.
	Output struct {
		Batch *wire.Batch
		Fired []Fired
	}
)

func (Peer) event()         {}
func (Frame) event()        {}
func (StreamRecord) event() {}
func (PeerChecked) event()  {}
func (Acquired) event()     {}
func (SecretStored) event() {}
func (Record) event()       {}
func (Saved) event()        {}
func (Stored) event()       {}
func (Reply) action()       {}
func (ReadStream) action()  {}
func (CheckPeer) action()   {}
func (Acquire) action()     {}
func (StoreSecret) action() {}
func (ReadRecord) action()  {}
func (SaveNext) action()    {}
func (Store) action()       {}
func (Output) action()      {}

// Session is one delivery connection to a Receiver.
type Session struct {
	r       *Receiver
	in      *Inbox
	peerOrg string
	hello   *wire.Hello
	want    Wait
	onReply func(t int64, ev Event) // what the awaited answer goes to
	asm     assembly
	acts    []Action
}

// Waiting says what the session expects next.
func (s *Session) Waiting() Wait { return s.want }

// Ready returns the actions since the last Advance, in order; a request
// comes last. The slice is valid until Advance.
func (s *Session) Ready() []Action { return s.acts }

// Advance forgets the actions Ready returned.
func (s *Session) Advance() {
	clear(s.acts)
	s.acts = s.acts[:0]
}

// Step applies one event at time now.
func (s *Session) Step(now time.Time, ev Event) {
	t := now.UnixNano()
	switch ev := ev.(type) {
	case Peer:
		s.expect(WaitPeer, ev)
		s.peer(ev)
	case Frame:
		switch s.want {
		case WaitHello:
			s.helloFrame(ev)
		case WaitHead, WaitBody:
			s.batchFrame(ev)
		default:
			panic(fmt.Sprintf("dcmb/core: a frame while the session waits for %d", s.want))
		}
	default:
		s.expect(waitReply, ev)
		f := s.onReply
		s.onReply = nil
		f(t, ev)
	}
}

func (s *Session) expect(w Wait, ev Event) {
	if s.want != w {
		panic(fmt.Sprintf("dcmb/core: %T while the session waits for %d", ev, s.want))
	}
}

func (s *Session) emit(a Action) { s.acts = append(s.acts, a) }

// request emits a request and waits for its answer, which goes to then.
func (s *Session) request(a Action, then func(t int64, ev Event)) {
	s.emit(a)
	s.want, s.onReply = waitReply, then
}

// reject refuses with a reason; closing ends the connection, otherwise
// the session goes on with the next batch.
func (s *Session) reject(seq uint64, closing bool, format string, args ...any) {
	reason := fmt.Sprintf(format, args...)
	s.emit(logf(slog.LevelWarn, "delivery rejected", "seq", seq, "reason", reason))
	s.emit(Reply{F: &wire.Reject{Seq: seq, Reason: reason}})
	if closing {
		s.want = WaitNone
	} else {
		s.want = WaitHead
	}
}

func (s *Session) peer(ev Peer) {
	if !ev.Known {
		s.reject(0, true, "peer is not an enrolled member")
		return
	}
	s.peerOrg, s.want = ev.Org, WaitHello
}

// helloFrame checks a Hello against this node's configuration, then
// asks for the stream's record.
func (s *Session) helloFrame(ev Frame) {
	if ev.Err != nil {
		s.reject(0, true, "hello: %v", ev.Err)
		return
	}
	h, ok := ev.F.(*wire.Hello)
	if !ok {
		s.reject(0, true, "expected hello, got %T", ev.F)
		return
	}
	in := s.r.inboxes[h.Stream]
	if err := CheckHello(h, s.r.channel, s.peerOrg, in); err != nil {
		s.reject(0, true, "%v", err)
		return
	}
	s.in, s.hello = in, h
	s.request(ReadStream{Stream: h.Stream}, func(t int64, ev Event) {
		r := ev.(StreamRecord)
		if err := CheckStream(h.Stream, r.Record, r.Err, s.peerOrg, s.r.org); err != nil {
			s.reject(0, true, "%v", err)
			return
		}
		s.request(CheckPeer{Record: r.Record}, s.peerChecked)
	})
}

// CheckHello checks a Hello against the receiving node: its channel, a
// stream it receives (in, nil if none), from the peer's org.
func CheckHello(h *wire.Hello, channel, peerOrg string, in *Inbox) error {
	switch {
	case h.Channel != channel:
		return fmt.Errorf("this node receives on channel %s, not %s", channel, h.Channel)
	case in == nil:
		return fmt.Errorf("this node is not configured to receive stream %q", h.Stream)
	case in.cfg.From != peerOrg:
		return fmt.Errorf("stream %q is received from %s, not %s", h.Stream, in.cfg.From, peerOrg)
	}
	return nil
}

// CheckStream checks the chain's record of a stream (or the error reading
// it): anchored by the peer's org, for this one.
func CheckStream(stream string, rec *audit.Stream, err error, peerOrg, org string) error {
	switch {
	case err != nil:
		return fmt.Errorf("reading the chain: %v", err)
	case rec == nil:
		return fmt.Errorf("stream %q has nothing anchored yet", stream)
	case rec.Org != peerOrg || rec.Receiver != org:
		return fmt.Errorf("stream %q is anchored by %s for %s", stream, rec.Org, rec.Receiver)
	}
	return nil
}

func (s *Session) peerChecked(t int64, ev Event) {
	if err := ev.(PeerChecked).Err; err != nil {
		s.reject(0, true, "%v", err)
		return
	}
	s.request(Acquire{Stream: s.hello.Stream}, func(t int64, ev Event) {
		if !ev.(Acquired).OK {
			s.reject(0, true, "stream %q is already being delivered on another connection", s.hello.Stream)
			return
		}
		s.secret()
	})
}

// secret checks the stream secret of sealed mode: stored on first
// contact, the same one afterwards.
func (s *Session) secret() {
	h := s.hello
	if h.Mode != audit.ModeSealed {
		s.welcome()
		return
	}
	switch {
	case len(h.Secret) != 32:
		s.reject(0, true, "sealed mode needs the 32-byte stream secret")
	case s.in.secret == nil:
		s.request(StoreSecret{Stream: h.Stream, Secret: h.Secret}, func(t int64, ev Event) {
			if err := ev.(SecretStored).Err; err != nil {
				s.reject(0, true, "storing the stream secret: %v", err)
				return
			}
			s.in.secret = h.Secret
			s.welcome()
		})
	case !bytes.Equal(s.in.secret, h.Secret):
		s.reject(0, true, "the stream secret differs from the one this receiver holds")
	default:
		s.welcome()
	}
}

func (s *Session) welcome() {
	s.emit(Reply{F: &wire.Welcome{Next: s.in.next}})
	s.want = WaitHead
}
