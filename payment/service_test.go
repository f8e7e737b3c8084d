package payment

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/sealnet/sealnet/contract"
	"github.com/sealnet/sealnet/contract/compute"
	"github.com/sealnet/sealnet/contract/paych"
	"github.com/sealnet/sealnet/contract/paych/voucher"
	"github.com/sealnet/sealnet/ledger"
	"github.com/sealnet/sealnet/p2p"
)

// pair is a payer node (org1) and a payee node (org2) with a channel
// of deposit 1,000 from the first to the second.
type pair struct {
	l          *fakeLedger
	a, b       *testNode
	sa, sb     *Service
	dirA, dirB string
	ch         *paych.Channel
}

func newPair(t *testing.T) *pair {
	p := &pair{l: newFakeLedger(), a: newTestNode(t, "org1"), b: newTestNode(t, "org2"), dirA: t.TempDir(), dirB: t.TempDir()}
	admit(p.a, p.b)
	p.ch = channelOf(t, 1, p.a.id, "org2", 1000)
	p.l.set(p.ch)
	p.sa, p.sb = p.a.service(t, p.l, p.dirA), p.b.service(t, p.l, p.dirB)
	t.Cleanup(func() { p.sa.Close(); p.sb.Close() })
	return p
}

func (p *pair) pay(t *testing.T, amount uint64, job string) *Receipt {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	r, err := p.sa.Pay(ctx, Payment{Chain: "default", Channel: p.ch.ID, Amount: amount, Job: job})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// held returns the payee's latest durable lane 0.
func (p *pair) held(t *testing.T) voucher.Lane {
	t.Helper()
	lanes, _, err := p.sb.Held("default", p.ch.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(lanes) == 0 {
		return voucher.Lane{}
	}
	return lanes[0]
}

// Concurrent payments on one channel are numbered in order and each
// returns once the payee stored it; both sides pick up after a restart.
func TestPayConcurrentlyAndRestart(t *testing.T) {
	p := newPair(t)
	var wg sync.WaitGroup
	for range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 20 {
				p.pay(t, 1, "")
			}
		}()
	}
	wg.Wait()
	if got := p.held(t); got != (voucher.Lane{ID: 0, Nonce: 200, Amount: 200}) {
		t.Fatalf("payee holds %+v after 200 payments", got)
	}
	// the payee restarts: its journal gives back the latest voucher, and
	// the payer's next payment starts from it
	p.sb.Close()
	p.sb = p.b.service(t, p.l, p.dirB)
	if got := p.held(t); got.Nonce != 200 {
		t.Fatalf("after a restart the payee holds %+v", got)
	}
	if r := p.pay(t, 5, ""); r.Nonce != 201 || r.Amount != 205 {
		t.Fatalf("after the payee's restart: %+v", r)
	}
	// the payer restarts with nothing: the Welcome tells it where it stands
	p.sa.Close()
	p.sa = p.a.service(t, p.l, p.dirA)
	if r := p.pay(t, 1, ""); r.Nonce != 202 || r.Amount != 206 {
		t.Fatalf("after the payer's restart: %+v", r)
	}
	if st := p.sb.Stats(); st.Stored != 2 || st.Accepted != 2 {
		t.Fatalf("the restarted payee's stats: %+v", st)
	}
}

// exchange opens a raw stream from n to the payee and sends frames (raw
// bytes, each with its length prefix unless it is one already), then
// returns the first frame that is not a Welcome.
func exchange(t *testing.T, n *testNode, to *testNode, raw ...[]byte) *Frame {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st, err := n.host.NewStream(ctx, to.host.ID(), Protocol)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Reset()
	st.SetDeadline(time.Now().Add(10 * time.Second))
	for _, b := range raw {
		if _, err := st.Write(b); err != nil {
			t.Fatal(err)
		}
	}
	for {
		f, err := ReadFrame(st)
		if err != nil {
			t.Fatalf("no answer: %v", err)
		}
		if f.Kind != KindWelcome {
			return f
		}
	}
}

func framed(f *Frame) []byte {
	b := f.Encode()
	return append(binary.BigEndian.AppendUint32(nil, uint32(len(b))), b...)
}

func (p *pair) hello(id string) []byte {
	var k [32]byte
	b, _ := hex.DecodeString(id)
	copy(k[:], b)
	return framed(&Frame{Kind: KindHello, Chain: "default", Channel: k})
}

// Every bad voucher is refused with its own code, and the payee holds
// what it held before.
func TestRefusals(t *testing.T) {
	p := newPair(t)
	p.pay(t, 40, "") // lane 0 at nonce 1, 40
	other := channelOf(t, 2, p.a.id, "org2", 100)
	p.l.set(other)
	toOrg3 := channelOf(t, 3, p.a.id, "org3", 100)
	p.l.set(toOrg3)
	settling := channelOf(t, 4, p.a.id, "org2", 100)
	settling.State = paych.StateSettling
	p.l.set(settling)
	job := func(b byte, state string, payees ...string) string {
		var id [32]byte
		id[0] = b
		j := &compute.Job{ID: hex.EncodeToString(id[:]), State: state, Mode: compute.ModeAttested, Price: 10, Result: -1}
		for _, o := range payees {
			j.Slots = append(j.Slots, compute.Slot{Org: o})
			j.Result = 0
		}
		p.l.mu.Lock()
		p.l.jobs[j.ID] = j
		p.l.mu.Unlock()
		return j.ID
	}
	submitted := job(1, compute.StateSubmitted, "org2")
	forOrg3 := job(2, compute.StateAccepted, "org3")
	accepted := job(3, compute.StateAccepted, "org2")
	intruder := newIdentity(t, "org1", "bob", "client")

	chID, _ := hex.DecodeString(p.ch.ID)
	otherID, _ := hex.DecodeString(other.ID)
	base := voucher.Voucher{Chain: "default", Contract: paych.Name, Channel: chID, Lane: 0, Nonce: 2, Amount: 50}
	mk := func(edit func(*voucher.Voucher), key bool) []byte {
		v := base
		edit(&v)
		k := p.a.id.Key
		if !key {
			k = intruder.Key
		}
		raw, err := voucher.Sign(v, k)
		if err != nil {
			t.Fatal(err)
		}
		return raw
	}
	cond := func(id string) *voucher.Condition {
		b, _ := hex.DecodeString(id)
		return &voucher.Condition{Job: b, State: voucher.StateAccepted}
	}
	vf := func(raw []byte) []byte { return framed(&Frame{Kind: KindVoucher, Seq: 1, Voucher: raw}) }
	for _, c := range []struct {
		name   string
		frames [][]byte
		want   Code
	}{
		{"another channel", [][]byte{p.hello(p.ch.ID), vf(mk(func(v *voucher.Voucher) { v.Channel = otherID }, true))}, CodeWrongChannel},
		{"another chain", [][]byte{p.hello(p.ch.ID), vf(mk(func(v *voucher.Voucher) { v.Chain = "staging" }, true))}, CodeWrongChain},
		{"another contract", [][]byte{p.hello(p.ch.ID), vf(mk(func(v *voucher.Voucher) { v.Contract = "paych2" }, true))}, CodeWrongContract},
		{"an equal nonce", [][]byte{p.hello(p.ch.ID), vf(mk(func(v *voucher.Voucher) { v.Nonce = 1 }, true))}, CodeStaleNonce},
		{"a lower amount", [][]byte{p.hello(p.ch.ID), vf(mk(func(v *voucher.Voucher) { v.Amount = 39 }, true))}, CodeAmountDecreased},
		{"above the deposit", [][]byte{p.hello(p.ch.ID), vf(mk(func(v *voucher.Voucher) { v.Amount = 1001 }, true))}, CodeAboveDeposit},
		{"lanes past the deposit", [][]byte{p.hello(p.ch.ID), vf(mk(func(v *voucher.Voucher) { v.Lane, v.Nonce, v.Amount = 1, 1, 961 }, true))}, CodeLanesAboveDeposit},
		{"signed by another", [][]byte{p.hello(p.ch.ID), vf(mk(func(*voucher.Voucher) {}, false))}, CodeNotPayer},
		{"a job not accepted", [][]byte{p.hello(p.ch.ID), vf(mk(func(v *voucher.Voucher) { v.Cond = cond(submitted) }, true))}, CodeJobNotAccepted},
		{"a job paying another org", [][]byte{p.hello(p.ch.ID), vf(mk(func(v *voucher.Voucher) { v.Cond = cond(forOrg3) }, true))}, CodeJobNotAccepted},
		{"a job nobody posted", [][]byte{p.hello(p.ch.ID), vf(mk(func(v *voucher.Voucher) { v.Cond = cond(strings.Repeat("ee", 32)) }, true))}, CodeJobNotAccepted},
		{"less than the job's price", [][]byte{p.hello(p.ch.ID), vf(mk(func(v *voucher.Voucher) { v.Cond, v.Amount = cond(accepted), 45 }, true))}, CodeTooLittle},
		{"bytes that are no voucher", [][]byte{p.hello(p.ch.ID), vf([]byte{0xa0})}, CodeMalformed},
		{"a malformed frame", [][]byte{p.hello(p.ch.ID), framed(&Frame{Kind: 'Z'})}, CodeMalformed},
		{"an oversized frame", [][]byte{p.hello(p.ch.ID), binary.BigEndian.AppendUint32(nil, MaxFrame+1)}, CodeMalformed},
		{"a voucher before the hello", [][]byte{vf(mk(func(*voucher.Voucher) {}, true))}, CodeProtocol},
		{"a skipped number", [][]byte{p.hello(p.ch.ID), framed(&Frame{Kind: KindVoucher, Seq: 2, Voucher: mk(func(*voucher.Voucher) {}, true)})}, CodeProtocol},
		{"a channel nobody opened", [][]byte{p.hello(strings.Repeat("ab", 32))}, CodeUnknownChannel},
		{"a channel paying another org", [][]byte{p.hello(toOrg3.ID)}, CodeNotPayee},
		{"a settling channel", [][]byte{p.hello(settling.ID)}, CodeNotOpen},
	} {
		f := exchange(t, p.a, p.b, c.frames...)
		if f.Kind != KindReject || f.Code != c.want {
			t.Errorf("%s: %c %s %q, want a refusal %s", c.name, f.Kind, f.Code, f.Reason, c.want)
		}
	}
	if got := p.held(t); got != (voucher.Lane{ID: 0, Nonce: 1, Amount: 40}) {
		t.Fatalf("after the refusals the payee holds %+v", got)
	}
	if calls := p.l.submitted(); len(calls) != 0 {
		t.Fatalf("refusals submitted %v", calls)
	}
	// the payer's side of a refusal: the error carries the code, and the
	// next payment goes on from what the payee holds
	_, err := p.sa.Relay(context.Background(), "default", mk(func(v *voucher.Voucher) { v.Nonce = 1 }, true))
	if CodeOf(err) != CodeStaleNonce {
		t.Fatalf("relayed stale voucher: %v", err)
	}
	if r := p.pay(t, 10, accepted); r.Nonce != 2 || r.Amount != 50 || r.Job != accepted {
		t.Fatalf("a payment after the refusals: %+v", r)
	}
}

// A peer the gate does not admit cannot open a stream; a member of
// another org, or not on the chain, is refused at the hello.
func TestStrangersRefused(t *testing.T) {
	p := newPair(t)
	c := newTestNode(t, "org3")
	c.host.Peerstore().AddAddrs(p.b.host.ID(), p.b.host.Addrs(), time.Hour)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if st, err := c.host.NewStream(ctx, p.b.host.ID(), Protocol); err == nil {
		st.SetDeadline(time.Now().Add(2 * time.Second))
		if _, err := st.Write(p.hello(p.ch.ID)); err == nil {
			if f, err := ReadFrame(st); err == nil {
				t.Fatalf("a non-member got an answer: %+v", f)
			}
		}
	}
	admit(p.a, p.b, c)
	if f := exchange(t, c, p.b, p.hello(p.ch.ID)); f.Code != CodeNotMember {
		t.Fatalf("org3's node on org1's channel: %+v", f)
	}
	members := map[peer.ID]p2p.Member{}
	for _, n := range []*testNode{p.a, p.b, c} {
		m, _ := p.b.gate.Lookup(n.host.ID())
		members[n.host.ID()] = m
	}
	m := members[p.a.host.ID()]
	m.Channels = map[string]bool{"other": true}
	members[p.a.host.ID()] = m
	p.b.gate.Update(members)
	if f := exchange(t, p.a, p.b, p.hello(p.ch.ID)); f.Code != CodeNotMember {
		t.Fatalf("a member not on the chain: %+v", f)
	}
}

// A settle the payee did not start makes it settle with its latest
// voucher and collect; a collect drops the channel.
func TestRedeemOnSettle(t *testing.T) {
	p := newPair(t)
	var last *Receipt
	for range 5 {
		last = p.pay(t, 3, "")
	}
	settle := func(by string) *ledger.Block {
		return &ledger.Block{Channel: "default", Txs: []ledger.TxResult{{Events: []contract.Event{{Contract: paych.Name, Type: "settling",
			Attrs: []contract.Attr{{Key: "channel", Value: p.ch.ID}, {Key: "by", Value: by}}}}}}}
	}
	p.sb.OnBlock(settle(paych.ByPayee)) // its own: nothing to do
	p.sb.OnBlock(settle(paych.ByPayer))
	deadline := time.Now().Add(10 * time.Second)
	for len(p.l.submitted()) < 2 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	calls := p.l.submitted()
	if len(calls) != 2 || calls[0].method != "settle" || calls[1].method != "collect" {
		t.Fatalf("calls %+v", calls)
	}
	if a := calls[0].args.(paych.VoucherArgs); a.Channel != p.ch.ID || string(a.Voucher) != string(last.Voucher) {
		t.Fatalf("settled with %+v, want the latest voucher", a)
	}
	// no voucher is taken once the channel settles
	_, err := p.sa.Pay(context.Background(), Payment{Chain: "default", Channel: p.ch.ID, Amount: 1})
	if CodeOf(err) != CodeNotOpen && !errors.Is(err, ErrSessionEnded) {
		t.Fatalf("a payment on a settling channel: %v", err)
	}
}

// CanPay and ChannelFrom: what the deposit still covers beyond the
// vouchers held, and not on a channel about to expire.
func TestCanPay(t *testing.T) {
	p := newPair(t)
	p.pay(t, 960, "")
	if err := p.sb.CanPay("default", p.ch.ID, 40); err != nil {
		t.Fatal(err)
	}
	if err := p.sb.CanPay("default", p.ch.ID, 41); CodeOf(err) != CodeAboveDeposit {
		t.Fatalf("41 of 40 left: %v", err)
	}
	if err := p.sa.CanPay("default", p.ch.ID, 1); CodeOf(err) != CodeNotPayee {
		t.Fatalf("the payer asked: %v", err)
	}
	if id, err := p.sb.ChannelFrom("default", "org1", 40); err != nil || id != p.ch.ID {
		t.Fatalf("ChannelFrom: %s %v", id, err)
	}
	if _, err := p.sb.ChannelFrom("default", "org1", 41); CodeOf(err) != CodeUnknownChannel {
		t.Fatalf("ChannelFrom 41: %v", err)
	}
	p.l.mu.Lock()
	p.l.height = 990
	p.l.mu.Unlock()
	if err := p.sb.CanPay("default", p.ch.ID, 1); CodeOf(err) != CodeNotOpen {
		t.Fatalf("10 blocks before expiry: %v", err)
	}
}

// PayJob pays each org an accepted job pays, once.
func TestPayJob(t *testing.T) {
	p := newPair(t)
	var id [32]byte
	id[0] = 9
	j := &compute.Job{ID: hex.EncodeToString(id[:]), State: compute.StateAccepted, Mode: compute.ModeAttested, Price: 7, Result: 0,
		Slots: []compute.Slot{{Org: "org2"}}}
	p.l.jobs[j.ID] = j
	ctx := context.Background()
	rs, err := p.sa.PayJob(ctx, "default", j.ID)
	if err != nil || len(rs) != 1 || rs[0].Amount != 7 || rs[0].Job != j.ID {
		t.Fatalf("PayJob: %+v %v", rs, err)
	}
	if _, err := p.sa.PayJob(ctx, "default", j.ID); err != nil {
		t.Fatal(err)
	}
	if got := p.held(t); got.Nonce != 1 {
		t.Fatalf("a job paid twice: %+v", got)
	}
	j.State = compute.StateSubmitted
	if _, err := p.sa.PayJob(ctx, "default", j.ID); err == nil {
		t.Fatal("paid a job not accepted")
	}
}

// A payment whose stream breaks after the payee took it but before its
// Ack is settled by the next Welcome: paid once if the payee holds it,
// sent afresh if it does not.
func TestPaymentInDoubt(t *testing.T) {
	for _, kept := range []bool{true, false} {
		p := newPair(t)
		p.pay(t, 1, "") // nonce 1
		_, held, _ := p.sb.Held("default", p.ch.ID)
		p.sb.Close() // a payee that breaks the first stream after a voucher
		var mu sync.Mutex
		var got []uint64
		streams := 0
		p.b.host.SetStreamHandler(Protocol, func(st network.Stream) {
			defer st.Close()
			if _, err := ReadFrame(st); err != nil {
				return
			}
			mu.Lock()
			streams++
			n, w := streams, &Frame{Kind: KindWelcome, Vouchers: held}
			mu.Unlock()
			WriteFrame(st, w)
			f, err := ReadFrame(st)
			if err != nil {
				return
			}
			d, _ := voucher.Decode(f.Voucher)
			mu.Lock()
			got = append(got, d.Nonce)
			if kept {
				held = [][]byte{f.Voucher}
			}
			mu.Unlock()
			if n == 1 {
				st.Reset() // no Ack
				return
			}
			WriteFrame(st, &Frame{Kind: KindAck, Seq: f.Seq})
		})
		r := p.pay(t, 1, "")
		mu.Lock()
		if kept && (len(got) != 1 || r.Nonce != 2 || r.Amount != 2) {
			t.Errorf("kept: the payee received nonces %v, the payment returned %+v", got, r)
		}
		if !kept && (len(got) != 2 || got[0] != 2 || got[1] != 2 || r.Nonce != 2) {
			t.Errorf("lost: the payee received nonces %v, the payment returned %+v", got, r)
		}
		mu.Unlock()
	}
}
