package dcmb

// This file holds the receiving driver: each delivery connection is
// served by a core.Session, whose requests it answers from the chain, the
// stream's files and the inbox; it also tracks the connections so that
// stopping the runtime ends them.

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/sealnet/sealnet/contract/audit"
	"github.com/sealnet/sealnet/dcmb/core"
	"github.com/sealnet/sealnet/dcmb/wire"
	"github.com/sealnet/sealnet/identity"
	"github.com/sealnet/sealnet/p2p"
)

// Read deadlines of a delivery connection, and how long the receiver
// waits for its replica to commit what the sender's replica committed.
const (
	helloTimeout = 30 * time.Second
	batchTimeout = 10 * time.Minute
	replicaWait  = 15 * time.Second
)

// conn is one delivery connection being served.
type conn struct {
	r    *Runtime
	st   network.Stream
	br   *bufio.Reader
	bw   *bufio.Writer
	log  *slog.Logger
	held *inbox // the stream this connection acquired
}

// handle serves one delivery stream from a sender.
func (r *Runtime) handle(st network.Stream) {
	if !r.track(st) {
		st.Reset()
		return
	}
	defer r.untrack(st)
	defer st.Close()
	c := &conn{r: r, st: st, br: bufio.NewReaderSize(st, 256<<10), bw: bufio.NewWriter(st),
		log: r.log.With("peer", st.Conn().RemotePeer())}
	defer func() {
		if c.held != nil {
			c.held.conn.Unlock()
		}
	}()
	sess := r.recv.Open()
	m, ok := r.peers.Lookup(st.Conn().RemotePeer())
	var ev core.Event = core.Peer{Org: m.Org, Known: ok}
	for {
		sess.Step(time.Now(), ev)
		ev = nil
		for _, a := range sess.Ready() {
			answer, err := c.perform(a)
			if err != nil {
				return // the connection broke
			}
			if answer != nil {
				ev = answer
			}
		}
		sess.Advance()
		if ev != nil {
			continue
		}
		switch sess.Waiting() {
		case core.WaitHello:
			st.SetReadDeadline(time.Now().Add(helloTimeout))
		case core.WaitHead:
			st.SetReadDeadline(time.Now().Add(batchTimeout))
		case core.WaitBody:
		default:
			return
		}
		ev = c.read()
	}
}

// read reads the next frame.
func (c *conn) read() core.Frame {
	raw, err := wire.ReadFrame(c.br)
	if err != nil {
		return core.Frame{Err: err, End: errors.Is(err, io.EOF) || errors.Is(err, network.ErrReset)}
	}
	f, err := wire.Decode(raw)
	return core.Frame{F: f, Err: err}
}

// perform does one action of a session and returns the answer to a
// request; an error ends the connection.
func (c *conn) perform(a core.Action) (core.Event, error) {
	r := c.r
	switch a := a.(type) {
	case core.Reply:
		if err := wire.WriteFrame(c.bw, wire.Encode(a.F)); err != nil {
			return nil, err
		}
		return nil, c.bw.Flush()
	case core.Log:
		if in := r.receivers[a.Stream]; in != nil {
			in.log.Log(context.Background(), a.Level, a.Msg, a.Attrs...)
		} else {
			c.log.Log(context.Background(), a.Level, a.Msg, a.Attrs...)
		}
	case core.Count:
		r.Stats.count(a)
	case core.Output:
		r.receivers[a.Batch.Stream].output(a.Batch, a.Fired)
	case core.ReadStream:
		// the sender connects once its replica committed the first
		// anchor; this replica gets the same chance
		var rec *audit.Stream
		err := r.awaitChain(func() (found bool, err error) {
			rec, err = r.chain.Stream(a.Stream)
			return rec != nil, err
		})
		return core.StreamRecord{Record: rec, Err: err}, nil
	case core.CheckPeer:
		return core.PeerChecked{Err: r.isAnchoringNode(a.Record, c.st.Conn().RemotePeer())}, nil
	case core.Acquire:
		in := r.receivers[a.Stream]
		if !in.conn.TryLock() {
			return core.Acquired{}, nil
		}
		c.held = in
		return core.Acquired{OK: true}, nil
	case core.StoreSecret:
		return core.SecretStored{Err: r.receivers[a.Stream].storeSecret(a.Secret)}, nil
	case core.ReadRecord:
		var rec *audit.Batch
		read := func() (bool, error) {
			var err error
			rec, err = r.chain.Batch(a.Stream, a.First)
			return rec != nil, err
		}
		var err error
		if a.Wait {
			err = r.awaitChain(read)
		} else {
			_, err = read()
		}
		return core.Record{Record: rec, Err: err}, nil
	case core.SaveNext:
		return core.Saved{Err: r.receivers[a.Stream].saveNext(a.Next)}, nil
	case core.Store:
		return core.Stored{Err: r.receivers[a.Batch.Stream].store(a.Batch, a.Next)}, nil
	default:
		panic(fmt.Sprintf("dcmb: a session asked for %T", a))
	}
	return nil, nil
}

// awaitChain reads from the local replica until read finds something,
// waking on each committed block, for up to replicaWait.
func (r *Runtime) awaitChain(read func() (bool, error)) error {
	blocks, stop := r.chain.Subscribe(16)
	defer func() { stop() }()
	timeout := time.NewTimer(replicaWait)
	defer timeout.Stop()
	for {
		if found, err := read(); found || err != nil {
			return err
		}
		select {
		case _, ok := <-blocks:
			if !ok { // fell behind: read again, and follow anew
				blocks, stop = r.chain.Subscribe(16)
			}
		case <-timeout.C:
			return nil
		case <-r.stopped:
			return nil
		}
	}
}

// isAnchoringNode checks that the peer is the node whose certificate
// anchors the stream: another node of the same org cannot deliver (nor
// plant a stream secret).
func (r *Runtime) isAnchoringNode(cs *audit.Stream, p peer.ID) error {
	fp, err := identity.ParseFingerprint(cs.Sender)
	if err != nil {
		return fmt.Errorf("stream %q: sender %v", cs.Name, err)
	}
	m, revoked, err := r.chain.Member(fp)
	if err != nil {
		return fmt.Errorf("stream %q: the anchoring member's certificate: %v", cs.Name, err)
	}
	if revoked {
		return fmt.Errorf("stream %q is anchored by member %s, whose certificate is revoked", cs.Name, m.ID)
	}
	rec, err := r.chain.CertRecord(fp)
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

// track registers a delivery stream being served; false once the runtime
// stops.
func (r *Runtime) track(st network.Stream) bool {
	r.hmu.Lock()
	defer r.hmu.Unlock()
	if r.stopping {
		return false
	}
	r.streams[st] = struct{}{}
	r.handlers.Add(1)
	return true
}

func (r *Runtime) untrack(st network.Stream) {
	r.hmu.Lock()
	delete(r.streams, st)
	r.hmu.Unlock()
	r.handlers.Done()
}

// stopHandlers ends the delivery streams being served and waits for their
// handlers, so that nothing is received after Run returns.
func (r *Runtime) stopHandlers() {
	r.host.RemoveStreamHandler(Protocol)
	r.hmu.Lock()
	r.stopping = true
	close(r.stopped)
	for st := range r.streams {
		st.Reset()
	}
	r.hmu.Unlock()
	r.handlers.Wait()
}
