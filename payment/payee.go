// The payee's side of Protocol: a stream from the paying org's node, the
// checks of each voucher, the journal, the acknowledgements.

package payment

import (
	"context"
	"encoding/hex"
	"errors"
	"io"
	"time"

	"github.com/libp2p/go-libp2p/core/network"

	"github.com/sealnet/sealnet/contract/compute"
	"github.com/sealnet/sealnet/contract/paych"
	"github.com/sealnet/sealnet/contract/paych/voucher"
	"github.com/sealnet/sealnet/txerr"
)

// handle serves one payer's stream: Hello, Welcome, then vouchers, each
// acknowledged once it is on disk, until the payer closes the stream or a
// voucher is refused.
func (s *Service) handle(st network.Stream) {
	s.mu.Lock()
	if s.ctx.Err() != nil {
		s.mu.Unlock()
		st.Reset()
		return
	}
	s.streams[st] = true
	s.wg.Add(1)
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.streams, st)
		s.mu.Unlock()
		st.Close()
		s.wg.Done()
	}()
	a := newAcker(st)
	defer a.stop()
	seq, err := s.serve(st, a)
	if err == nil {
		return
	}
	s.refused.Add(1)
	r := asRefused(err)
	s.cfg.Log.Warn("voucher refused", "peer", st.Conn().RemotePeer(), "seq", seq, "code", r.Code, "reason", r.Reason)
	a.reject(seq, r)
}

// serve runs the stream until it ends (nil) or the sequence number seq is
// refused.
func (s *Service) serve(st network.Stream, a *acker) (seq uint64, err error) {
	peerID := st.Conn().RemotePeer()
	m, ok := s.cfg.Members.Lookup(peerID)
	if !ok {
		return 0, refuse(CodeNotMember, "peer %s is not an enrolled member", peerID)
	}
	st.SetReadDeadline(time.Now().Add(30 * time.Second))
	f, err := ReadFrame(st)
	if err != nil {
		return 0, readErr(err)
	}
	if f.Kind != KindHello {
		return 0, refuse(CodeProtocol, "the stream starts with %q, not Hello", f.Kind)
	}
	if !m.Channels[f.Chain] {
		return 0, refuse(CodeNotMember, "%s of %s is not a member of chain %s", m.ID, m.Org, f.Chain)
	}
	k := chanKey{chain: f.Chain, id: f.Channel}
	h, err := s.hello(k, m.Org)
	if err != nil {
		return 0, err
	}
	w := &Frame{Kind: KindWelcome, Vouchers: [][]byte{}}
	for _, v := range s.book.latest(h) {
		w.Vouchers = append(w.Vouchers, v.raw)
	}
	if err := a.write(w); err != nil {
		return 0, nil
	}
	for {
		st.SetReadDeadline(time.Now().Add(s.cfg.IdleTimeout))
		f, err := ReadFrame(st)
		switch {
		case errors.Is(err, io.EOF):
			a.await(seq)
			return 0, nil
		case err != nil && !errors.Is(err, ErrMalformed):
			return 0, nil // the stream broke: the payer resends what was not acknowledged
		case err != nil:
			return seq + 1, readErr(err)
		case f.Kind != KindVoucher:
			return seq + 1, refuse(CodeProtocol, "frame %q where a voucher was due", f.Kind)
		case f.Seq != seq+1:
			return seq + 1, refuse(CodeProtocol, "voucher numbered %d, want %d", f.Seq, seq+1)
		}
		seq = f.Seq
		n := seq
		if err := s.take(h, f.Voucher, func(err error) { a.done(n, err) }); err != nil {
			a.await(seq - 1)
			return seq, err
		}
	}
}

func readErr(err error) error {
	if errors.Is(err, ErrMalformed) {
		return refuse(CodeMalformed, "%v", err)
	}
	return err
}

// hello checks that the channel exists on this node's replica (waiting
// for it a while: the payer's node saw it commit), pays this org's
// account, is paid by the peer's org and is open.
func (s *Service) hello(k chanKey, peerOrg string) (*held, error) {
	rec, err := s.waitChannel(k)
	if err != nil {
		return nil, err
	}
	switch {
	case rec.PayeeOrg != s.org || rec.PayeeMember != "":
		return nil, refuse(CodeNotPayee, "channel %s pays %s, not %s's account", rec.ID, accountName(rec.PayeeOrg, rec.PayeeMember), s.org)
	case rec.PayerOrg != peerOrg:
		return nil, refuse(CodeNotMember, "channel %s is paid by %s, and the peer is of %s", rec.ID, rec.PayerOrg, peerOrg)
	case rec.State != paych.StateOpen:
		return nil, refuse(CodeNotOpen, "channel %s is %s", rec.ID, rec.State)
	}
	h := s.book.get(k)
	// what an earlier stream handed the journal is on disk before the
	// Welcome tells the payer where the lanes stand
	for deadline := time.Now().Add(5 * time.Second); h.inJournal.Load() > 0; {
		if time.Now().After(deadline) {
			return nil, refuse(CodeStorage, "the journal has not flushed channel %s's vouchers", rec.ID)
		}
		time.Sleep(time.Millisecond)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if err := h.setRecord(rec, s.book.lanes(h)); err != nil {
		return nil, refuse(CodeUnknownChannel, "channel %s: its payer key does not parse: %v", rec.ID, err)
	}
	return h, nil
}

func accountName(org, member string) string {
	if member == "" {
		return org
	}
	return org + "/" + member
}

// waitChannel reads a channel's record, waiting up to ReplicaWait for it
// to commit on this node.
func (s *Service) waitChannel(k chanKey) (*paych.Channel, error) {
	deadline := time.Now().Add(s.cfg.ReplicaWait)
	for {
		rec, err := s.cfg.Ledger.Channel(k.chain, k.hex())
		switch {
		case err == nil:
			return rec, nil
		case txerr.CodeOf(err) != txerr.NotFound:
			return nil, refuse(CodeUnknownChannel, "chain %s: %v", k.chain, err)
		case time.Now().After(deadline):
			return nil, refuse(CodeUnknownChannel, "no channel %s on chain %s", k.hex(), k.chain)
		}
		if !sleep(s.ctx, 50*time.Millisecond) {
			return nil, refuse(CodeUnknownChannel, "payment service closing")
		}
	}
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// take checks one voucher against the channel's view and what the payee
// expects of it, applies it to the view and hands it to the journal;
// durable is called once it is on disk, or cannot be.
func (s *Service) take(h *held, raw []byte, durable func(error)) error {
	d, err := voucher.Decode(raw)
	if err != nil {
		return refuse(CodeMalformed, "%v", err)
	}
	want, err := s.expect(h.key.chain, d)
	if err != nil {
		return err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.rec.State != paych.StateOpen {
		return refuse(CodeNotOpen, "channel %s is %s", h.rec.ID, h.rec.State)
	}
	eff, err := voucher.Accept(d, h.view, want)
	if errors.Is(err, voucher.ErrAboveDeposit) || errors.Is(err, voucher.ErrLanesAboveDeposit) {
		// the payer may have topped the channel up since it was read
		if rec, rerr := s.cfg.Ledger.Channel(h.key.chain, h.key.hex()); rerr == nil && rec.Deposit != h.rec.Deposit {
			if rerr := h.setRecord(rec, nil); rerr == nil {
				eff, err = voucher.Accept(d, h.view, want)
			}
		}
	}
	if err != nil {
		return asRefused(err)
	}
	h.view.Apply(eff)
	s.accepted.Add(1)
	h.inJournal.Add(1)
	s.j.append(raw, func(err error) {
		if err == nil {
			s.book.stored(d, raw)
		}
		h.inJournal.Add(-1)
		durable(err)
	})
	return nil
}

// expect is what the payee wants of a voucher: an unconditional one adds
// something; one conditional on a job needs the job accepted on this
// node's replica (waiting for it a while), with this org among those its
// acceptance pays, and adds at least the job's price.
func (s *Service) expect(chain string, d *voucher.Decoded) (voucher.Expect, error) {
	if d.Cond == nil {
		return voucher.Expect{Increment: 1}, nil
	}
	id := hex.EncodeToString(d.Cond.Job)
	deadline := time.Now().Add(s.cfg.ReplicaWait)
	for {
		j, err := s.cfg.Ledger.Job(chain, id)
		switch {
		case err == nil && j.State == compute.StateAccepted:
			for _, org := range j.Payees() {
				if org == s.org {
					return voucher.Expect{Increment: j.Price, Job: d.Cond.Job}, nil
				}
			}
			return voucher.Expect{}, refuse(CodeJobNotAccepted, "job %s's acceptance pays %v, not %s", id, j.Payees(), s.org)
		case err != nil && txerr.CodeOf(err) != txerr.NotFound:
			return voucher.Expect{}, refuse(CodeJobNotAccepted, "job %s: %v", id, err)
		case j != nil && j.Terminal():
			return voucher.Expect{}, refuse(CodeJobNotAccepted, "job %s is %s", id, j.State)
		case time.Now().After(deadline):
			state := "unknown"
			if err == nil {
				state = j.State
			}
			return voucher.Expect{}, refuse(CodeJobNotAccepted, "job %s is %s, not %s", id, state, compute.StateAccepted)
		}
		if !sleep(s.ctx, 50*time.Millisecond) {
			return voucher.Expect{}, refuse(CodeJobNotAccepted, "payment service closing")
		}
	}
}
