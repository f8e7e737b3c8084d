// Vouchers signed elsewhere, and where a channel's lanes stand.

package payment

import (
	"context"
	"encoding/hex"
	"sort"

	"github.com/sealnet/sealnet/contract/paych/voucher"
)

// Relay sends a voucher its payer signed elsewhere (a member with
// "sealnet paych voucher") to the payee's node and returns once that node
// stored it durably.
func (s *Service) Relay(ctx context.Context, chain string, raw []byte) (*Receipt, error) {
	d, err := voucher.Decode(raw)
	if err != nil {
		return nil, refuse(CodeMalformed, "%v", err)
	}
	if d.Chain != chain {
		return nil, refuse(CodeWrongChain, "the voucher is for chain %q, not %q", d.Chain, chain)
	}
	k := chanKey{chain: chain}
	copy(k.id[:], d.Channel)
	ss, err := s.session(ctx, k)
	if err != nil {
		return nil, err
	}
	ss.mu.Lock()
	done, err := ss.send(raw)
	if err == nil {
		if cur, ok := ss.lanes[d.Lane]; !ok || d.Nonce > cur.Nonce {
			ss.lanes[d.Lane] = voucher.Lane{ID: d.Lane, Nonce: d.Nonce, Amount: d.Amount}
		}
	}
	ss.mu.Unlock()
	if err != nil {
		return nil, err
	}
	if err := wait(ctx, done); err != nil {
		return nil, err
	}
	r := &Receipt{Chain: chain, Channel: k.hex(), Lane: d.Lane, Nonce: d.Nonce, Amount: d.Amount, Voucher: raw}
	if d.Cond != nil {
		r.Job = hex.EncodeToString(d.Cond.Job)
	}
	return r, nil
}

// Lanes returns where a channel's lanes stand: for a channel paying this
// node's org, its latest durable vouchers; for another, what the payee's
// node holds as it said when this node dialled it, and what this node
// sent since.
func (s *Service) Lanes(ctx context.Context, chain, channel string) ([]voucher.Lane, error) {
	k, err := parseChannel(chain, channel)
	if err != nil {
		return nil, err
	}
	rec, err := s.cfg.Ledger.Channel(chain, channel)
	if err != nil {
		return nil, err
	}
	if rec.PayeeOrg == s.org {
		lanes, _, err := s.Held(chain, channel)
		return lanes, err
	}
	ss, err := s.session(ctx, k)
	if err != nil {
		return nil, err
	}
	ss.mu.Lock()
	defer ss.mu.Unlock()
	out := []voucher.Lane{}
	for _, l := range ss.lanes {
		out = append(out, l)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}
