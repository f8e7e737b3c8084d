// The payee's node on chain: answering a settle it did not start with its
// latest vouchers, cashing a channel in, and telling the compute worker
// whether a channel can pay for more work.

package payment

import (
	"context"
	"time"

	"github.com/sealnet/sealnet/canon"
	"github.com/sealnet/sealnet/contract"
	"github.com/sealnet/sealnet/contract/paych"
	"github.com/sealnet/sealnet/ledger"
	"github.com/sealnet/sealnet/txerr"
)

// OnBlock looks at a committed block of chain b.Channel for what the
// payment channels this node is paid by did: a settle by the payer or by
// the expiry starts the redeeming of the node's latest vouchers (in the
// background, before settle_at); a collect drops the channel's vouchers
// at the journal's next compaction. It returns at once: the ledger calls
// it in its commit path.
func (s *Service) OnBlock(b *ledger.Block) {
	each := func(e contract.Event) {
		if e.Contract != paych.Name || (e.Type != "settling" && e.Type != "collected") {
			return
		}
		attrs := map[string]string{}
		for _, a := range e.Attrs {
			attrs[a.Key] = a.Value
		}
		k, err := parseChannel(b.Channel, attrs["channel"])
		if err != nil {
			return
		}
		h := s.book.lookup(k)
		if h == nil {
			return
		}
		h.mu.Lock()
		if h.rec != nil {
			rec := *h.rec
			rec.State = map[string]string{"settling": paych.StateSettling, "collected": paych.StateClosed}[e.Type]
			h.rec = &rec // no voucher is taken from now on
		}
		h.mu.Unlock()
		switch {
		case e.Type == "collected":
			s.book.close(k)
		case attrs["by"] != paych.ByPayee:
			s.redeemLater(k)
		}
	}
	for _, r := range b.Txs {
		for _, e := range r.Events {
			each(e)
		}
	}
	for _, e := range b.Events {
		each(e)
	}
}

// redeemLater starts redeeming channel k's latest vouchers unless that is
// under way.
func (s *Service) redeemLater(k chanKey) {
	s.mu.Lock()
	if s.redeems[k] || s.ctx.Err() != nil {
		s.mu.Unlock()
		return
	}
	s.redeems[k] = true
	s.wg.Add(1)
	s.mu.Unlock()
	go func() {
		defer s.wg.Done()
		defer func() {
			s.mu.Lock()
			delete(s.redeems, k)
			s.mu.Unlock()
		}()
		for attempt := 0; attempt < 5; attempt++ {
			rec, err := s.cash(s.ctx, k, false)
			if err == nil {
				if rec != nil {
					s.cfg.Log.Info("redeemed on a settle", "chain", k.chain, "channel", k.hex(), "paid", rec.Paid)
				}
				return
			}
			s.cfg.Log.Warn("redeem on a settle", "chain", k.chain, "channel", k.hex(), "attempt", attempt+1, "err", err)
			if !sleep(s.ctx, time.Duration(attempt+1)*time.Second) {
				return
			}
		}
	}()
}

// Resume answers the settles the node missed while it was down: every
// channel it holds vouchers for that is settling, and whose redeeming the
// payee did not end, is redeemed now. The daemon calls it once its
// chains are open.
func (s *Service) Resume() {
	for _, k := range s.book.keys() {
		rec, err := s.cfg.Ledger.Channel(k.chain, k.hex())
		if err != nil {
			continue
		}
		switch {
		case rec.State == paych.StateClosed:
			s.book.close(k)
		case rec.State == paych.StateSettling && rec.SettledBy != paych.ByPayee:
			s.redeemLater(k)
		}
	}
}

// Cash ends a channel this node's org is paid by and collects what it
// owes: the node's latest vouchers are redeemed (all lanes but the last
// with redeem, the last with the payee's settle, which ends the
// redeeming at once) and the channel collected. With one lane that is two
// transactions, so a channel costs three: open, settle, collect.
func (s *Service) Cash(ctx context.Context, chain, channel string) (*paych.Channel, error) {
	k, err := parseChannel(chain, channel)
	if err != nil {
		return nil, err
	}
	return s.cash(ctx, k, true)
}

// cash redeems what the node holds beyond the chain's lanes and collects.
// Unless always, it does nothing when it holds nothing more (the payer
// collects, or the expiry does).
func (s *Service) cash(ctx context.Context, k chanKey, always bool) (*paych.Channel, error) {
	rec, err := s.cfg.Ledger.Channel(k.chain, k.hex())
	if err != nil {
		return nil, err
	}
	if rec.PayeeOrg != s.org {
		return nil, txerr.New(txerr.RoleDenied, "channel %s pays %s, not %s", rec.ID, rec.PayeeOrg, s.org)
	}
	if rec.State == paych.StateClosed {
		return rec, nil
	}
	onChain := map[uint64]uint64{}
	for _, l := range rec.Lanes {
		onChain[l.ID] = l.Nonce
	}
	var newer [][]byte
	if h := s.book.lookup(k); h != nil {
		for _, v := range s.book.latest(h) {
			if v.lane.Nonce > onChain[v.lane.ID] {
				newer = append(newer, v.raw)
			}
		}
	}
	if len(newer) == 0 && !always {
		return nil, nil
	}
	if rec.State == paych.StateSettling && rec.SettledBy == paych.ByPayee {
		newer = nil // the redeeming ended
	} else {
		for _, raw := range newer[:max(len(newer)-1, 0)] {
			if _, err := s.cfg.Ledger.Submit(ctx, k.chain, paych.Name, "redeem", paych.VoucherArgs{Channel: rec.ID, Voucher: raw}); err != nil {
				return nil, err
			}
		}
		var last []byte
		if len(newer) > 0 {
			last = newer[len(newer)-1]
		}
		if _, err := s.cfg.Ledger.Submit(ctx, k.chain, paych.Name, "settle", paych.VoucherArgs{Channel: rec.ID, Voucher: last}); err != nil {
			return nil, err
		}
	}
	out, err := s.cfg.Ledger.Submit(ctx, k.chain, paych.Name, "collect", paych.ChannelArgs{Channel: rec.ID})
	if err != nil {
		return nil, err
	}
	var done paych.Channel
	if err := canon.Unmarshal(out, &done); err != nil {
		return nil, txerr.New(txerr.Internal, "collect's result: %v", err)
	}
	s.book.close(k)
	return &done, nil
}

// CanPay tells the compute worker whether channel can pay amount more to
// this node's org: it must pay the org's account, be open, not expire
// within MinBlocksLeft blocks, and hold amount beyond what the node's
// vouchers (or the chain's lanes, if further) already promise. A worker
// starts no work the channel cannot pay for.
func (s *Service) CanPay(chain, channel string, amount uint64) error {
	k, err := parseChannel(chain, channel)
	if err != nil {
		return err
	}
	rec, err := s.cfg.Ledger.Channel(chain, channel)
	if err != nil {
		return err
	}
	height, err := s.cfg.Ledger.Height(chain)
	if err != nil {
		return err
	}
	return s.canPay(k, rec, height, amount)
}

func (s *Service) canPay(k chanKey, rec *paych.Channel, height int64, amount uint64) error {
	switch {
	case rec.PayeeOrg != s.org || rec.PayeeMember != "":
		return refuse(CodeNotPayee, "channel %s pays %s, not %s's account", rec.ID, accountName(rec.PayeeOrg, rec.PayeeMember), s.org)
	case rec.State != paych.StateOpen:
		return refuse(CodeNotOpen, "channel %s is %s", rec.ID, rec.State)
	case rec.Expiry-height < s.cfg.MinBlocksLeft:
		return refuse(CodeNotOpen, "channel %s expires at block %d, in %d blocks; work needs %d", rec.ID, rec.Expiry, rec.Expiry-height, s.cfg.MinBlocksLeft)
	}
	promised := rec.Redeemed
	if h := s.book.lookup(k); h != nil {
		promised = max(promised, s.book.total(h))
	}
	if left := rec.Deposit - promised; left < amount {
		return refuse(CodeAboveDeposit, "channel %s can pay %d more, not %d", rec.ID, left, amount)
	}
	return nil
}

// ChannelFrom returns an open channel from payerOrg to this node's org
// that can pay amount more (CanPay), for a worker about to take a job of
// payerOrg at that price.
func (s *Service) ChannelFrom(chain, payerOrg string, amount uint64) (string, error) {
	height, err := s.cfg.Ledger.Height(chain)
	if err != nil {
		return "", err
	}
	var reasons []string
	after := ""
	for {
		l, err := s.cfg.Ledger.Channels(chain, paych.ListArgs{Org: s.org, After: after, State: paych.StateOpen, Limit: paych.MaxList})
		if err != nil {
			return "", err
		}
		for i := range l.Channels {
			rec := &l.Channels[i]
			if rec.PayerOrg != payerOrg {
				continue
			}
			k, err := parseChannel(chain, rec.ID)
			if err != nil {
				continue
			}
			if err := s.canPay(k, rec, height, amount); err != nil {
				reasons = append(reasons, err.Error())
				continue
			}
			return rec.ID, nil
		}
		if !l.More || len(l.Channels) == 0 {
			break
		}
		after = l.Channels[len(l.Channels)-1].ID
	}
	return "", refuse(CodeUnknownChannel, "no open channel from %s to %s can pay %d (%d open channels cannot)", payerOrg, s.org, amount, len(reasons))
}
