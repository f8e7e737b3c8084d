package voucher

import (
	"bytes"
	"crypto/ecdsa"
	"fmt"
	"sort"
)

// Lane is where a channel's lane stands: the nonce and cumulative amount
// of the latest voucher taken on it.
type Lane struct {
	ID     uint64 `cbor:"id" json:"id"`
	Nonce  uint64 `cbor:"nonce" json:"nonce"`
	Amount uint64 `cbor:"amount" json:"amount"`
}

// Channel is what a checker knows of a channel. On chain its lanes are
// what was redeemed; at the payee they are the best vouchers it holds.
type Channel struct {
	Chain    string
	Contract string
	ID       [32]byte
	Payer    *ecdsa.PublicKey
	Deposit  uint64
	Lanes    []Lane // in ascending ID order
}

// Total is what the lanes add up to.
func (c *Channel) Total() uint64 {
	var t uint64
	for _, l := range c.Lanes {
		t += l.Amount // never past the deposit, a uint64: see Check
	}
	return t
}

func (c *Channel) lane(id uint64) (int, Lane, bool) {
	i := sort.Search(len(c.Lanes), func(i int) bool { return c.Lanes[i].ID >= id })
	if i < len(c.Lanes) && c.Lanes[i].ID == id {
		return i, c.Lanes[i], true
	}
	return i, Lane{ID: id}, false
}

// Effect is what a voucher that passed Check changes.
type Effect struct {
	Lane      Lane   // the lane after the voucher
	Increment uint64 // its amount minus the lane's before
	Total     uint64 // the lanes' sum after
}

// Check runs the checks the chain and the payee share, cheapest first:
//
//  1. the voucher names this chain,
//  2. this contract,
//  3. and this channel;
//  4. its nonce is above its lane's;
//  5. its amount is not below its lane's;
//  6. a new lane fits under MaxLanes;
//  7. its amount is not above the deposit,
//  8. nor are all lanes together with it;
//  9. the payer signed it.
//
// It changes nothing; Apply records the effect. A condition is not
// checked here: the chain checks it at redeem, the payee with Accept.
func Check(d *Decoded, ch *Channel) (Effect, error) {
	v := &d.Voucher
	switch {
	case v.Chain != ch.Chain:
		return Effect{}, fmt.Errorf("%w: %q, not %q", ErrWrongChain, v.Chain, ch.Chain)
	case v.Contract != ch.Contract:
		return Effect{}, fmt.Errorf("%w: %q, not %q", ErrWrongContract, v.Contract, ch.Contract)
	case !bytes.Equal(v.Channel, ch.ID[:]):
		return Effect{}, fmt.Errorf("%w: %x, not %x", ErrWrongChannel, v.Channel, ch.ID)
	}
	_, lane, known := ch.lane(v.Lane)
	if v.Nonce <= lane.Nonce {
		return Effect{}, fmt.Errorf("%w: lane %d is at nonce %d, the voucher has %d", ErrStaleNonce, v.Lane, lane.Nonce, v.Nonce)
	}
	if v.Amount < lane.Amount {
		return Effect{}, fmt.Errorf("%w: lane %d holds %d, the voucher %d", ErrAmountDecreased, v.Lane, lane.Amount, v.Amount)
	}
	if !known && len(ch.Lanes) >= MaxLanes {
		return Effect{}, fmt.Errorf("%w: the channel has %d, the most it may", ErrTooManyLanes, len(ch.Lanes))
	}
	if v.Amount > ch.Deposit {
		return Effect{}, fmt.Errorf("%w: %d, deposit %d", ErrAboveDeposit, v.Amount, ch.Deposit)
	}
	// Every lane is at most the deposit and they add up to at most the
	// deposit, so neither sum below can overflow.
	total := ch.Total() - lane.Amount + v.Amount
	if total > ch.Deposit {
		return Effect{}, fmt.Errorf("%w: the lanes would pay %d, deposit %d", ErrLanesAboveDeposit, total, ch.Deposit)
	}
	if err := d.Verify(ch.Payer); err != nil {
		return Effect{}, err
	}
	return Effect{Lane: Lane{ID: v.Lane, Nonce: v.Nonce, Amount: v.Amount}, Increment: v.Amount - lane.Amount, Total: total}, nil
}

// Apply records an effect Check returned on the channel's lanes.
func (c *Channel) Apply(e Effect) {
	i, _, known := c.lane(e.Lane.ID)
	if known {
		c.Lanes[i] = e.Lane
		return
	}
	c.Lanes = append(c.Lanes, Lane{})
	copy(c.Lanes[i+1:], c.Lanes[i:])
	c.Lanes[i] = e.Lane
}

// Expect is what a payee wants of the next voucher.
type Expect struct {
	// Increment is the least it must add on its lane to what the payee
	// holds: the price of what was delivered.
	Increment uint64
	// Job is the job a conditional voucher must wait for (the result
	// delivered); nil wants an unconditional voucher.
	Job []byte
}

// Accept is the payee's decision on a voucher it is offered against its
// view of the channel: Check's nine checks, then the condition the payee
// expects (none, or the job it delivered for) and an increment of at least
// what it expects. It is pure: the caller applies the effect to its view
// (Channel.Apply) and stores the voucher durably before it delivers more.
func Accept(d *Decoded, view *Channel, want Expect) (Effect, error) {
	e, err := Check(d, view)
	if err != nil {
		return Effect{}, err
	}
	switch c := d.Cond; {
	case c == nil && want.Job != nil:
		return Effect{}, fmt.Errorf("%w: unconditional, want one on job %x", ErrWrongCondition, want.Job)
	case c != nil && want.Job == nil:
		return Effect{}, fmt.Errorf("%w: on job %x, want an unconditional one", ErrWrongCondition, c.Job)
	case c != nil && !bytes.Equal(c.Job, want.Job):
		return Effect{}, fmt.Errorf("%w: on job %x, want %x", ErrWrongCondition, c.Job, want.Job)
	}
	if e.Increment < want.Increment {
		return Effect{}, fmt.Errorf("%w: adds %d on lane %d, want %d", ErrTooLittle, e.Increment, e.Lane.ID, want.Increment)
	}
	return e, nil
}
