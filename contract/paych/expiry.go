package paych

import (
	"encoding/hex"

	"github.com/sealnet/sealnet/contract"
	"github.com/sealnet/sealnet/contract/paych/voucher"
	"github.com/sealnet/sealnet/txerr"
)

// EndBlock implements contract.EndBlocker: the channels due at the end of
// this block, and only they, are read. A channel open at its expiry
// settles, with the settle delay left to the payee to redeem; a settling
// channel whose delay is over is collected.
func (c *Contract) EndBlock(ctx *contract.Context, st contract.State) error {
	prefix := timerPrefix(ctx.Height)
	var due []string
	if err := st.Iterate(prefix, func(k, _ []byte) bool {
		due = append(due, string(k[len(prefix):]))
		return true
	}); err != nil {
		return err
	}
	for _, id := range due {
		if err := st.Delete(timerKey(ctx.Height, id)); err != nil {
			return err
		}
		ch, err := load(st, "expiry", id)
		if err != nil {
			return err
		}
		switch {
		case ch.State == StateClosed:
		case ch.State == StateOpen:
			ch.State, ch.SettleAt, ch.SettledBy = StateSettling, ch.Expiry+ch.SettleDelay, ByExpiry
			if err := st.Set(timerKey(ch.SettleAt, ch.ID), []byte{1}); err != nil {
				return err
			}
			if err := save(st, ch); err != nil {
				return err
			}
			ctx.Emit("settling", "", attr("channel", ch.ID), attr("by", ch.SettledBy), height("settle_at", ch.SettleAt))
		case ch.SettleAt > ctx.Height:
			if err := st.Set(timerKey(ch.SettleAt, ch.ID), []byte{1}); err != nil {
				return err
			}
		default:
			if err := c.payout(ctx, st, ch, ByExpiry); err != nil {
				return err
			}
		}
	}
	return nil
}

// Jobs is the narrow read of the contract that holds compute jobs, for
// vouchers that pay only once their job is accepted. The paych contract
// hands JobState that contract's state, read-only, as the redeeming
// transaction sees it.
type Jobs interface {
	// Contract names the contract whose state JobState reads.
	Contract() string
	// JobState returns the state of the job with the given ID (64 lower
	// case hex digits: its posting transaction's ID) in st, or found
	// false.
	JobState(st contract.State, job string) (state string, found bool, err error)
}

// condition checks a conditional voucher's job on chain.
func (c *Contract) condition(ctx *contract.Context, cond *voucher.Condition) error {
	job := hex.EncodeToString(cond.Job)
	if c.jobs == nil {
		return txerr.New(txerr.Rejected, "voucher pays once job %s is %s, and no job contract is wired", job, cond.State)
	}
	state, found, err := c.jobs.JobState(ctx.Read(c.jobs.Contract()), job)
	switch {
	case err != nil:
		return txerr.New(txerr.Internal, "job %s: %v", job, err)
	case !found:
		return txerr.New(txerr.NotFound, "voucher pays once job %s is %s, and there is no such job", job, cond.State)
	case state != cond.State:
		return txerr.New(txerr.Rejected, "voucher pays once job %s is %s, and it is %s", job, cond.State, state)
	}
	return nil
}
