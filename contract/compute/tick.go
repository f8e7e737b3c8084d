package compute

import (
	"encoding/binary"
	"fmt"

	"github.com/sealnet/sealnet/contract"
)

// EndBlock implements contract.EndBlocker: it acts on every job something
// is due for at this height (a deadline, a lease, the window after its
// results), as recorded under t/<height>/<job>. It reads nothing else, so
// a block in which nothing is due costs one seek.
func (c *Contract) EndBlock(ctx *contract.Context, st contract.State) error {
	var due [][]byte
	var ids []string
	err := st.Iterate([]byte(pTimer), func(k, _ []byte) bool {
		if len(k) < len(pTimer)+9 || int64(binary.BigEndian.Uint64(k[len(pTimer):])) > ctx.Height {
			return false
		}
		due = append(due, append([]byte(nil), k...))
		id := string(k[len(pTimer)+9:])
		if !contains(ids, id) {
			ids = append(ids, id)
		}
		return true
	})
	if err != nil {
		return err
	}
	for _, k := range due {
		if err := st.Delete(k); err != nil {
			return err
		}
	}
	for _, id := range ids {
		j, err := loadJob(st, id)
		if err != nil {
			return err
		}
		if j.Terminal() {
			continue
		}
		if err := c.tick(ctx, j); err != nil {
			return err
		}
		if err := save(st, j); err != nil {
			return err
		}
	}
	return nil
}

// tick applies what is due for j at the end of block ctx.Height, in this
// order: leases that ran out free their slots; a job without all its
// results by its deadline expires; a window that closed accepts the
// attested result or tallies the redundant ones.
func (c *Contract) tick(ctx *contract.Context, j *Job) error {
	h := ctx.Height
	kept := j.Slots[:0]
	for _, s := range j.Slots {
		if rank(s.State) < rank(StateSubmitted) && s.LeaseEnd <= h {
			j.record(h, StatePosted, s.Worker, fmt.Sprintf("lease of %s ended at block %d in state %s; the claim is free", s.Org, s.LeaseEnd, s.State))
			emit(ctx, "lease_expired", j.Org, j, contract.Attr{Key: "worker", Value: s.Worker}, contract.Attr{Key: "worker_org", Value: s.Org})
			continue
		}
		kept = append(kept, s)
	}
	j.Slots = kept
	if j.WindowEnd == 0 && h >= j.Deadline {
		state := aggregate(j)
		return finish(ctx, j, StateExpired, fmt.Sprintf("deadline at block %d passed in state %s; price refunded", j.Deadline, state))
	}
	if j.WindowEnd != 0 && h >= j.WindowEnd {
		if j.Redundant() {
			return c.tally(ctx, j)
		}
		j.Result = 0
		return finish(ctx, j, StateAccepted, fmt.Sprintf("no objection within %d blocks; price %d to %s", j.WindowBlocks, j.Price, j.Slots[0].Org))
	}
	return nil
}
