package dcmb

// This file holds the sender's end of a delivery connection: finding a
// node of the receiving org, the Hello and its Welcome, and writing one
// batch as a Head and its Chunk (or Leaves) frames, answered by an Ack.

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/sealnet/sealnet/contract/audit"
	"github.com/sealnet/sealnet/dcmb/wire"
)

// Deadlines of the sender's end.
const (
	dialTimeout    = 5 * time.Second
	welcomeTimeout = 30 * time.Second
	batchWrite     = 60 * time.Second
	ackTimeout     = 60 * time.Second
)

// link is an open delivery stream to the receiver.
type link struct {
	st network.Stream
	w  *bufio.Writer
	r  *bufio.Reader
}

type rejectError struct{ reason string }

func (e *rejectError) Error() string { return "receiver rejected: " + e.reason }

func (l *link) close() { l.st.Reset() }

func (l *link) read(d time.Duration) (any, error) {
	l.st.SetReadDeadline(time.Now().Add(d))
	raw, err := wire.ReadFrame(l.r)
	if err != nil {
		return nil, err
	}
	f, err := wire.Decode(raw)
	if err != nil {
		return nil, err
	}
	if rj, ok := f.(*Reject); ok {
		return nil, &rejectError{reason: rj.Reason}
	}
	return f, nil
}

// connect opens a delivery stream to the receiver's node and returns the
// next sequence number it lacks.
func (s *sender) connect(ctx context.Context) (*link, uint64, error) {
	host := s.r.host
	var peers []peer.ID
	if s.cfg.ReceiverPeer != "" {
		p, err := peer.Decode(s.cfg.ReceiverPeer)
		if err != nil {
			return nil, 0, fmt.Errorf("receiver_peer: %w", err)
		}
		peers = []peer.ID{p}
	} else {
		peers = s.r.peers.NodesOf(s.cfg.Receiver)
	}
	if len(peers) == 0 {
		return nil, 0, fmt.Errorf("no enrolled node of org %s", s.cfg.Receiver)
	}
	var errs []error
	for _, p := range peers {
		if p == host.ID() {
			continue
		}
		cctx, cancel := context.WithTimeout(ctx, dialTimeout)
		st, err := host.NewStream(cctx, p, Protocol)
		cancel()
		if err != nil {
			errs = append(errs, err)
			continue
		}
		l := &link{st: st, w: bufio.NewWriterSize(st, 256<<10), r: bufio.NewReader(st)}
		h := &Hello{Channel: s.r.chain.Name(), Stream: s.cfg.Name, Mode: s.cfg.Mode, Deliver: s.cfg.Deliver}
		if s.cfg.Mode == audit.ModeSealed {
			h.Secret = s.secret[:]
		}
		if err := wire.WriteFrame(l.w, wire.Encode(h)); err != nil || l.w.Flush() != nil {
			l.close()
			errs = append(errs, fmt.Errorf("hello: %v", err))
			continue
		}
		f, err := l.read(welcomeTimeout)
		if err != nil {
			l.close()
			return nil, 0, err
		}
		w, ok := f.(*Welcome)
		if !ok {
			l.close()
			return nil, 0, fmt.Errorf("receiver answered hello with %T", f)
		}
		return l, w.Next, nil
	}
	return nil, 0, errors.Join(errs...)
}

// send delivers one batch and returns the receiver's acknowledged next
// sequence number.
func (l *link) send(b *Batch, s *sender) (uint64, error) {
	l.st.SetWriteDeadline(time.Now().Add(batchWrite))
	if err := wire.WriteFrame(l.w, wire.Encode(&Head{FirstSeq: b.FirstSeq, Count: b.Count})); err != nil {
		return 0, err
	}
	var err error
	if s.cfg.Deliver == DeliverHashes {
		for f := range wire.LeafChunks(b.Msgs, b.LeafHashes(s.secret)) {
			if err = wire.WriteFrame(l.w, wire.Encode(f)); err != nil {
				break
			}
		}
	} else {
		for f := range wire.Chunks(b.Msgs) {
			if err = wire.WriteFrame(l.w, wire.Encode(f)); err != nil {
				break
			}
		}
	}
	if err != nil {
		return 0, err
	}
	if err := l.w.Flush(); err != nil {
		return 0, err
	}
	f, err := l.read(ackTimeout)
	if err != nil {
		return 0, err
	}
	a, ok := f.(*Ack)
	if !ok {
		return 0, fmt.Errorf("receiver answered a batch with %T", f)
	}
	return a.Next, nil
}
