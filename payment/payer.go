// The payer's side of Protocol: one stream per channel to the payee's
// node, vouchers numbered in the order they are signed, each payment
// returned once the payee's node acknowledged it durable.

package payment

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/network"

	"github.com/sealnet/sealnet/contract/paych"
	"github.com/sealnet/sealnet/contract/paych/voucher"
	"github.com/sealnet/sealnet/txerr"
)

// Payment is one payment on a channel the node opened.
type Payment struct {
	Chain   string
	Channel string // 64 hex digits
	Lane    uint64
	Amount  uint64 // what the voucher adds to the lane
	Job     string // the job (64 hex digits) the voucher waits for; "" none
}

// Receipt is a voucher the payee's node acknowledged as stored durably.
type Receipt struct {
	Chain   string `json:"chain"`
	Channel string `json:"channel"`
	Lane    uint64 `json:"lane"`
	Nonce   uint64 `json:"nonce"`
	Amount  uint64 `json:"amount"` // cumulative on the lane
	Paid    uint64 `json:"paid"`   // what this voucher added
	Job     string `json:"job,omitempty"`
	Voucher []byte `json:"voucher"`
}

// ErrSessionEnded is the error of a payment that was sent but neither
// acknowledged nor refused: the stream ended first. The payee may hold
// it; the next payment on the channel starts from what the payee holds.
var ErrSessionEnded = errors.New("the payee's node did not acknowledge the voucher")

// session is a stream to the payee's node of one channel.
type session struct {
	s     *Service
	key   chanKey
	rec   *paych.Channel
	st    network.Stream
	ready chan struct{} // closed once dialled (err set if it failed)

	mu    sync.Mutex // the order of nonces and of frames
	lanes map[uint64]voucher.Lane
	jobs  map[string]bool // jobs the payee's latest vouchers wait for

	welcomed map[uint64]uint64 // lane -> nonce the payee held durably when the session began; set once
	seq      uint64

	pmu     sync.Mutex
	pending map[uint64]chan error
	acked   uint64
	err     error // why the session ended; nil while it runs
}

// session returns the running session of channel k, dialling the payee's
// node if there is none.
func (s *Service) session(ctx context.Context, k chanKey) (*session, error) {
	s.mu.Lock()
	ss, ok := s.sessions[k]
	if ok && ss.failed() != nil {
		delete(s.sessions, k)
		ok = false
	}
	if !ok {
		if s.ctx.Err() != nil {
			s.mu.Unlock()
			return nil, errors.New("payment service closed")
		}
		ss = &session{s: s, key: k, ready: make(chan struct{}), lanes: map[uint64]voucher.Lane{}, jobs: map[string]bool{},
			welcomed: map[uint64]uint64{}, pending: map[uint64]chan error{}}
		s.sessions[k] = ss
		go ss.dial()
	}
	s.mu.Unlock()
	select {
	case <-ss.ready:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if err := ss.failed(); err != nil {
		return nil, err
	}
	return ss, nil
}

func (ss *session) failed() error {
	ss.pmu.Lock()
	defer ss.pmu.Unlock()
	return ss.err
}

// dial opens the stream, says Hello and reads the payee's Welcome.
func (ss *session) dial() {
	defer close(ss.ready)
	s, k := ss.s, ss.key
	ctx, cancel := context.WithTimeout(s.ctx, s.cfg.ReplicaWait+20*time.Second)
	defer cancel()
	rec, err := s.cfg.Ledger.Channel(k.chain, k.hex())
	if err != nil {
		ss.end(err)
		return
	}
	ss.rec = rec
	peers := s.cfg.Members.NodesOf(rec.PayeeOrg)
	if len(peers) == 0 {
		ss.end(txerr.New(txerr.Unavailable, "no node of %s is known to this node's gate", rec.PayeeOrg))
		return
	}
	var st network.Stream
	for _, p := range peers {
		if st, err = s.cfg.Host.NewStream(ctx, p, Protocol); err == nil {
			break
		}
	}
	if err != nil {
		ss.end(txerr.New(txerr.Unavailable, "the node of %s is not reachable: %v", rec.PayeeOrg, err))
		return
	}
	ss.pmu.Lock()
	ss.st = st
	ss.pmu.Unlock()
	st.SetDeadline(time.Now().Add(s.cfg.ReplicaWait + 20*time.Second))
	if err := WriteFrame(st, &Frame{Kind: KindHello, Chain: k.chain, Channel: k.id}); err != nil {
		ss.end(txerr.New(txerr.Unavailable, "send hello: %v", err))
		return
	}
	f, err := ReadFrame(st)
	switch {
	case err != nil:
		ss.end(txerr.New(txerr.Unavailable, "read welcome: %v", err))
		return
	case f.Kind == KindReject:
		ss.end(&Refused{Code: f.Code, Reason: f.Reason})
		return
	case f.Kind != KindWelcome:
		ss.end(txerr.New(txerr.Malformed, "the payee's node answered hello with %q", f.Kind))
		return
	}
	if err := ss.welcome(f.Vouchers); err != nil {
		ss.end(err)
		return
	}
	st.SetDeadline(time.Time{})
	s.wg.Add(1)
	go ss.read()
}

// welcome takes the payee's latest vouchers as where the lanes stand,
// after checking that each is one of this channel's, signed by its payer:
// a payee cannot make the payer sign on from an amount it was never
// given.
func (ss *session) welcome(raws [][]byte) error {
	view, err := viewOf(ss.key, ss.rec)
	if err != nil {
		return err
	}
	for _, raw := range raws {
		d, err := voucher.Decode(raw)
		if err != nil {
			return fmt.Errorf("the payee's node holds a voucher that does not decode: %w", err)
		}
		if d.Chain != view.Chain || d.Contract != view.Contract || !bytes.Equal(d.Channel, view.ID[:]) {
			return fmt.Errorf("the payee's node holds a voucher of another channel")
		}
		if err := d.Verify(view.Payer); err != nil {
			return fmt.Errorf("the payee's node holds a voucher the payer did not sign: %w", err)
		}
		if cur, ok := ss.lanes[d.Lane]; !ok || d.Nonce > cur.Nonce {
			ss.lanes[d.Lane] = voucher.Lane{ID: d.Lane, Nonce: d.Nonce, Amount: d.Amount}
			ss.welcomed[d.Lane] = d.Nonce
		}
		if d.Cond != nil {
			ss.jobs[hex.EncodeToString(d.Cond.Job)] = true
		}
	}
	for _, l := range ss.rec.Lanes {
		if cur, ok := ss.lanes[l.ID]; !ok || l.Nonce > cur.Nonce {
			ss.lanes[l.ID] = l
		}
	}
	return nil
}

// viewOf is the voucher checks' view of a channel record.
func viewOf(k chanKey, rec *paych.Channel) (*voucher.Channel, error) {
	h := &held{key: k}
	if err := h.setRecord(rec, nil); err != nil {
		return nil, fmt.Errorf("channel %s: payer key: %w", rec.ID, err)
	}
	return h.view, nil
}

// read takes the payee's acknowledgements and refusal.
func (ss *session) read() {
	defer ss.s.wg.Done()
	for {
		f, err := ReadFrame(ss.st)
		if err != nil {
			ss.end(fmt.Errorf("%w: %v", ErrSessionEnded, err))
			return
		}
		switch f.Kind {
		case KindAck:
			ss.ack(f.Seq)
		case KindReject:
			ss.ack(f.Seq - 1)
			ss.pmu.Lock()
			if ch, ok := ss.pending[f.Seq]; ok {
				delete(ss.pending, f.Seq)
				ch <- &Refused{Code: f.Code, Reason: f.Reason}
			}
			ss.pmu.Unlock()
			ss.end(fmt.Errorf("%w: the payee refused voucher %d before it (%s)", ErrSessionEnded, f.Seq, f.Code))
			return
		default:
			ss.end(fmt.Errorf("%w: unexpected frame %q", ErrSessionEnded, f.Kind))
			return
		}
	}
}

// ack settles every payment up to seq.
func (ss *session) ack(seq uint64) {
	ss.pmu.Lock()
	defer ss.pmu.Unlock()
	for n := ss.acked + 1; n <= seq; n++ {
		if ch, ok := ss.pending[n]; ok {
			delete(ss.pending, n)
			ch <- nil
		}
	}
	if seq > ss.acked {
		ss.acked = seq
	}
}

// end stops the session: every payment still waiting fails with err.
func (ss *session) end(err error) {
	ss.pmu.Lock()
	if ss.err == nil {
		ss.err = err
	}
	for n, ch := range ss.pending {
		delete(ss.pending, n)
		ch <- ss.err
	}
	st := ss.st
	ss.pmu.Unlock()
	if st != nil {
		st.Reset()
	}
	ss.s.mu.Lock()
	if ss.s.sessions[ss.key] == ss {
		delete(ss.s.sessions, ss.key)
	}
	ss.s.mu.Unlock()
}

// send writes voucher raw as the next frame (ss.mu held) and returns
// where its outcome will arrive.
func (ss *session) send(raw []byte) (chan error, error) {
	ch := make(chan error, 1)
	ss.pmu.Lock()
	if ss.err != nil {
		ss.pmu.Unlock()
		return nil, ss.err
	}
	ss.pending[ss.seq+1] = ch
	ss.pmu.Unlock()
	if err := WriteFrame(ss.st, &Frame{Kind: KindVoucher, Seq: ss.seq + 1, Voucher: raw}); err != nil {
		ss.end(fmt.Errorf("%w: %v", ErrSessionEnded, err))
		return nil, err
	}
	ss.seq++
	return ch, nil
}

func wait(ctx context.Context, ch chan error) error {
	select {
	case err := <-ch:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Pay signs a voucher adding p.Amount to lane p.Lane of a channel this
// node opened, sends it to the payee's node and returns once that node
// stored it durably. Payments on one channel may run concurrently: they
// are numbered in the order they are signed and the payee's node
// acknowledges many with one flush. A payment the payee refuses returns
// the refusal; one cut off by a broken stream is settled by the next
// session's Welcome: if the payee holds its nonce or a later one on the
// lane it was stored (the payee takes a lane's vouchers in nonce order),
// otherwise it is signed afresh and sent again, so a result is paid once.
func (s *Service) Pay(ctx context.Context, p Payment) (*Receipt, error) {
	k, err := parseChannel(p.Chain, p.Channel)
	if err != nil {
		return nil, err
	}
	var cond *voucher.Condition
	if p.Job != "" {
		job, err := hex.DecodeString(p.Job)
		if err != nil || len(job) != 32 {
			return nil, refuse(CodeMalformed, "job %q is not 64 hex digits", p.Job)
		}
		cond = &voucher.Condition{Job: job, State: voucher.StateAccepted}
	}
	if p.Amount == 0 {
		return nil, txerr.New(txerr.BadArgs, "a payment adds something")
	}
	for attempt := 0; ; attempt++ {
		r, inDoubt, err := s.payOnce(ctx, k, p, cond)
		if err == nil || inDoubt == nil || attempt == 2 {
			return r, err
		}
		ss, serr := s.session(ctx, k)
		if serr != nil {
			return nil, err
		}
		if ss.welcomed[p.Lane] >= inDoubt.Nonce {
			return inDoubt, nil
		}
	}
}

// payOnce makes one attempt at a payment. A payment sent but neither
// acknowledged nor refused comes back as inDoubt with the error.
func (s *Service) payOnce(ctx context.Context, k chanKey, p Payment, cond *voucher.Condition) (r, inDoubt *Receipt, err error) {
	ss, err := s.session(ctx, k)
	if err != nil {
		return nil, nil, err
	}
	if ss.rec.Payer != s.cfg.Identity.Member.Fingerprint.String() {
		return nil, nil, txerr.New(txerr.RoleDenied, "channel %s is paid by member %s, not by this node: its payer signs the vouchers", p.Channel, ss.rec.Payer)
	}
	ss.mu.Lock()
	lane := ss.lanes[p.Lane]
	if err := ss.canAdd(p.Lane, p.Amount); err != nil {
		// the channel may have been topped up since it was read
		if rec, rerr := s.cfg.Ledger.Channel(p.Chain, p.Channel); rerr == nil && rec.Deposit > ss.rec.Deposit {
			ss.rec = rec
			err = ss.canAdd(p.Lane, p.Amount)
		}
		if err != nil {
			ss.mu.Unlock()
			return nil, nil, err
		}
	}
	amount := lane.Amount + p.Amount
	v := voucher.Voucher{Chain: p.Chain, Contract: paych.Name, Channel: k.id[:], Lane: p.Lane, Nonce: lane.Nonce + 1, Amount: amount, Cond: cond}
	raw, err := voucher.Sign(v, s.cfg.Identity.Key)
	if err != nil {
		ss.mu.Unlock()
		return nil, nil, err
	}
	r = &Receipt{Chain: p.Chain, Channel: p.Channel, Lane: p.Lane, Nonce: v.Nonce, Amount: amount, Paid: p.Amount, Job: p.Job, Voucher: raw}
	done, err := ss.send(raw)
	if err != nil {
		ss.mu.Unlock()
		return nil, r, err
	}
	ss.lanes[p.Lane] = voucher.Lane{ID: p.Lane, Nonce: v.Nonce, Amount: amount}
	ss.mu.Unlock()
	if err := wait(ctx, done); err != nil {
		if errors.Is(err, ErrSessionEnded) {
			return nil, r, err
		}
		return nil, nil, err
	}
	if p.Job != "" {
		ss.mu.Lock()
		ss.jobs[p.Job] = true
		ss.mu.Unlock()
	}
	return r, nil, nil
}

// canAdd checks that the lanes, lane grown by amount, stay within the
// deposit (ss.mu held).
func (ss *session) canAdd(lane, amount uint64) error {
	var total uint64
	for _, l := range ss.lanes {
		total += l.Amount
	}
	if total+amount < total || total+amount > ss.rec.Deposit {
		return refuse(CodeLanesAboveDeposit, "channel %s cannot pay %d more: deposit %d, promised %d", ss.rec.ID, amount, ss.rec.Deposit, total)
	}
	return nil
}
