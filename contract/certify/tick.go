package certify

import (
	"encoding/binary"
	"fmt"

	"github.com/sealnet/sealnet/contract"
)

// EndBlock implements contract.EndBlocker: a proposal whose voting period
// ends in this block without enough approvals is rejected, and a
// certification whose validity ends in this block expires, both in force
// from the next block. It reads only the timers due, under
// t/<height>/<name>@<version>, so a block in which nothing is due costs
// one seek.
func (c Contract) EndBlock(ctx *contract.Context, st contract.State) error {
	type due struct {
		key     []byte
		name    string
		version uint64
	}
	var todo []due
	err := st.Iterate([]byte(pTimer), func(k, _ []byte) bool {
		rest := k[len(pTimer):]
		if len(rest) < 8+1+8 || int64(binary.BigEndian.Uint64(rest)) > ctx.Height {
			return false
		}
		todo = append(todo, due{key: append([]byte(nil), k...), name: string(rest[8 : len(rest)-9]),
			version: binary.BigEndian.Uint64(rest[len(rest)-8:])})
		return true
	})
	if err != nil {
		return err
	}
	for _, d := range todo {
		if err := st.Delete(d.key); err != nil {
			return err
		}
		m, err := loadModule(st, d.name, d.version)
		if err != nil {
			return err
		}
		if m == nil {
			continue
		}
		switch {
		case m.State == StateProposed && ctx.Height >= m.Deadline:
			approvals, _, err := tally(st, m)
			if err != nil {
				return err
			}
			reason := fmt.Sprintf("voting closed at block %d with %d of %d approvals", m.Deadline, len(approvals), m.Threshold)
			if err := end(ctx, st, m, StateRejected, reason, m.Deadline); err != nil {
				return err
			}
		case (m.State == StateCertified || m.State == StateSuspended) && ctx.Height >= m.Expires:
			reason := fmt.Sprintf("certification ran out at the end of block %d", m.Expires)
			if err := end(ctx, st, m, StateExpired, reason, m.Expires); err != nil {
				return err
			}
		}
	}
	return nil
}
