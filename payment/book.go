package payment

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"encoding/hex"
	"sort"
	"sync"
	"sync/atomic"

	"github.com/sealnet/sealnet/contract/paych"
	"github.com/sealnet/sealnet/contract/paych/voucher"
)

// chanKey names a payment channel across the chains a node hosts.
type chanKey struct {
	chain string
	id    [32]byte
}

func (k chanKey) hex() string { return hex.EncodeToString(k.id[:]) }

// heldVoucher is the latest durable voucher of a lane.
type heldVoucher struct {
	lane voucher.Lane
	raw  []byte
}

// held is what the payee's node knows of one channel: the chain's record
// as last read, the view vouchers are checked against (the chain's lanes
// or better: every voucher accepted, durable or on its way to disk), and
// the latest durable voucher of each lane.
type held struct {
	key chanKey

	// mu orders the vouchers of the channel: each is checked against the
	// view the one before it left.
	mu   sync.Mutex
	rec  *paych.Channel   // nil until read from the chain
	view *voucher.Channel // nil until rec is read

	// inJournal counts accepted vouchers not yet on disk: a Welcome waits
	// for them, so that it says all the payee has taken.
	inJournal atomic.Int64

	// guarded by book.mu: written by the journal's flusher
	durable map[uint64]heldVoucher
	closed  bool // collected: dropped at the next compaction
}

// book is the payee's held vouchers of every channel.
type book struct {
	mu    sync.Mutex
	chans map[chanKey]*held
}

func newBook() *book { return &book{chans: map[chanKey]*held{}} }

// get returns the channel's entry, made if missing.
func (b *book) get(k chanKey) *held {
	b.mu.Lock()
	defer b.mu.Unlock()
	h, ok := b.chans[k]
	if !ok {
		h = &held{key: k, durable: map[uint64]heldVoucher{}}
		b.chans[k] = h
	}
	return h
}

// lookup returns the channel's entry or nil.
func (b *book) lookup(k chanKey) *held {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.chans[k]
}

// stored records a voucher now on disk (or read back from it) as its
// lane's latest, unless the lane holds a later one.
func (b *book) stored(d *voucher.Decoded, raw []byte) {
	var k chanKey
	k.chain = d.Chain
	copy(k.id[:], d.Channel)
	h := b.get(k)
	b.mu.Lock()
	defer b.mu.Unlock()
	if cur, ok := h.durable[d.Lane]; ok && cur.lane.Nonce >= d.Nonce {
		return
	}
	h.durable[d.Lane] = heldVoucher{lane: voucher.Lane{ID: d.Lane, Nonce: d.Nonce, Amount: d.Amount}, raw: raw}
}

// latest returns the channel's latest durable vouchers, in lane order.
func (b *book) latest(h *held) []heldVoucher {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make([]heldVoucher, 0, len(h.durable))
	for _, v := range h.durable {
		out = append(out, v)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].lane.ID < out[j].lane.ID })
	return out
}

// total is what the channel's durable vouchers add up to.
func (b *book) total(h *held) uint64 {
	var t uint64
	for _, v := range b.latest(h) {
		t += v.lane.Amount
	}
	return t
}

// close marks a collected channel; the next compaction drops it.
func (b *book) close(k chanKey) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if h, ok := b.chans[k]; ok {
		h.closed = true
	}
}

// snapshot returns the latest durable voucher of every lane of every
// channel not collected: what a compacted journal must keep.
func (b *book) snapshot() [][]byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out [][]byte
	for _, h := range b.chans {
		if h.closed {
			continue
		}
		for _, v := range h.durable {
			out = append(out, v.raw)
		}
	}
	return out
}

// keys returns every channel with durable vouchers.
func (b *book) keys() []chanKey {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []chanKey
	for k, h := range b.chans {
		if len(h.durable) > 0 && !h.closed {
			out = append(out, k)
		}
	}
	return out
}

// lanes returns the lanes of the channel's durable vouchers.
func (b *book) lanes(h *held) []voucher.Lane {
	var out []voucher.Lane
	for _, v := range b.latest(h) {
		out = append(out, v.lane)
	}
	return out
}

// setRecord sets the chain's record of h (h.mu held) and rebuilds the
// view: the payer's key and the deposit from the record, each lane at the
// furthest of the chain's, the durable vouchers' (known) and the view's
// so far.
func (h *held) setRecord(rec *paych.Channel, known []voucher.Lane) error {
	key, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), rec.PayerKey)
	if err != nil {
		return err
	}
	lanes := map[uint64]voucher.Lane{}
	further := func(ls []voucher.Lane) {
		for _, l := range ls {
			if cur, ok := lanes[l.ID]; !ok || l.Nonce > cur.Nonce {
				lanes[l.ID] = l
			}
		}
	}
	further(rec.Lanes)
	further(known)
	if h.view != nil {
		further(h.view.Lanes)
	}
	v := &voucher.Channel{Chain: h.key.chain, Contract: paych.Name, ID: h.key.id, Payer: key, Deposit: rec.Deposit}
	for _, l := range lanes {
		v.Lanes = append(v.Lanes, l)
	}
	sort.Slice(v.Lanes, func(i, j int) bool { return v.Lanes[i].ID < v.Lanes[j].ID })
	h.rec, h.view = rec, v
	return nil
}
