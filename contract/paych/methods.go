package paych

import (
	"github.com/sealnet/sealnet/contract"
	"github.com/sealnet/sealnet/contract/credit"
	"github.com/sealnet/sealnet/contract/paych/voucher"
	"github.com/sealnet/sealnet/identity"
	"github.com/sealnet/sealnet/txerr"
)

func (c *Contract) open(ctx *contract.Context, st contract.State, raw []byte) ([]byte, error) {
	var a OpenArgs
	if err := contract.DecodeArgs("open", raw, &a); err != nil {
		return nil, err
	}
	switch {
	case a.Deposit == 0:
		return nil, txerr.New(txerr.BadArgs, "open: the deposit must be positive")
	case a.From != "" && !identity.ValidMemberID(a.From):
		return nil, txerr.New(txerr.BadArgs, "open: from %q is not a member ID", a.From)
	case a.SettleDelay < MinSettleDelay || a.SettleDelay > MaxBlocks:
		return nil, txerr.New(txerr.BadArgs, "open: the settle delay is %d blocks, want %d to %d", a.SettleDelay, MinSettleDelay, MaxBlocks)
	case a.Expiry <= ctx.Height || a.Expiry-ctx.Height > MaxBlocks:
		return nil, txerr.New(txerr.BadArgs, "open: expiry %d must be after this block (%d) and at most %d blocks later", a.Expiry, ctx.Height, MaxBlocks)
	case a.ToOrg == ctx.Caller.Org && a.ToMember == a.From:
		return nil, txerr.New(txerr.BadArgs, "open: %s would pay itself", credit.AccountName(a.ToOrg, a.ToMember))
	case ctx.Caller.Key == nil:
		return nil, txerr.New(txerr.Internal, "open: the runtime gave no caller key")
	}
	if err := credit.Receivable(ctx, a.ToOrg, a.ToMember); err != nil {
		return nil, wrap("open", err)
	}
	key, err := ctx.Caller.Key.Bytes()
	if err != nil {
		return nil, txerr.New(txerr.Internal, "open: caller key: %v", err)
	}
	ch := &Channel{ID: string(ctx.TxNumber()), Payer: string(ctx.CallerFingerprint()), PayerKey: key,
		PayerOrg: ctx.Caller.Org, From: a.From, PayeeOrg: a.ToOrg, PayeeMember: a.ToMember, Deposit: a.Deposit,
		Lanes: []voucher.Lane{}, Opened: ctx.Height, Expiry: a.Expiry, SettleDelay: a.SettleDelay, State: StateOpen, Txs: 1}
	if _, err := ctx.Call(credit.Name, "lock", credit.MoveArgs{Org: ch.PayerOrg, Member: ch.From, Amount: a.Deposit, Ref: ch.ID}); err != nil {
		return nil, wrap("open", err)
	}
	if err := st.Set(timerKey(ch.Expiry, ch.ID), []byte{1}); err != nil {
		return nil, err
	}
	if err := save(st, ch); err != nil {
		return nil, err
	}
	if err := index(st, ch); err != nil {
		return nil, err
	}
	ctx.Emit("opened", "", attr("channel", ch.ID), attr("payer", ch.Payer),
		attr("from", credit.AccountName(ch.PayerOrg, ch.From)), attr("to", credit.AccountName(ch.PayeeOrg, ch.PayeeMember)),
		num("deposit", ch.Deposit), height("expiry", ch.Expiry), height("settle_delay", ch.SettleDelay))
	return contract.Result(ch)
}

// wrap prefixes a refusal that came from elsewhere (the credit contract)
// with the method, keeping its code.
func wrap(method string, err error) error {
	return txerr.New(txerr.CodeOf(err), "%s: %s", method, txerr.Message(err))
}

func (c *Contract) topUp(ctx *contract.Context, st contract.State, raw []byte) ([]byte, error) {
	var a TopUpArgs
	if err := contract.DecodeArgs("top_up", raw, &a); err != nil {
		return nil, err
	}
	ch, err := load(st, "top_up", a.Channel)
	if err != nil {
		return nil, err
	}
	switch {
	case !ch.payerSide(ctx.Caller):
		return nil, txerr.New(txerr.RoleDenied, "top_up: only the payer's side tops up channel %s", ch.ID)
	case ch.State == StateClosed:
		return nil, txerr.New(txerr.Rejected, "top_up: channel %s was collected at height %d", ch.ID, ch.Closed)
	case ch.settleAt(ctx.Height) != 0:
		return nil, txerr.New(txerr.Rejected, "top_up: channel %s is settling", ch.ID)
	case a.Amount == 0:
		return nil, txerr.New(txerr.BadArgs, "top_up: the amount must be positive")
	case ch.Deposit+a.Amount < ch.Deposit:
		return nil, txerr.New(txerr.Rejected, "top_up: the deposit %d cannot grow by %d", ch.Deposit, a.Amount)
	}
	if _, err := ctx.Call(credit.Name, "lock", credit.MoveArgs{Org: ch.PayerOrg, Member: ch.From, Amount: a.Amount, Ref: ch.ID}); err != nil {
		return nil, wrap("top_up", err)
	}
	ch.Deposit += a.Amount
	ch.Txs++
	if err := save(st, ch); err != nil {
		return nil, err
	}
	ctx.Emit("topped_up", "", attr("channel", ch.ID), num("amount", a.Amount), num("deposit", ch.Deposit))
	return contract.Result(ch)
}

func (c *Contract) redeem(ctx *contract.Context, st contract.State, raw []byte) ([]byte, error) {
	var a VoucherArgs
	if err := contract.DecodeArgs("redeem", raw, &a); err != nil {
		return nil, err
	}
	ch, err := load(st, "redeem", a.Channel)
	if err != nil {
		return nil, err
	}
	if !ch.payeeSide(ctx.Caller) {
		return nil, txerr.New(txerr.RoleDenied, "redeem: only the payee's side redeems vouchers of channel %s", ch.ID)
	}
	if err := c.take(ctx, ch, "redeem", a.Voucher); err != nil {
		return nil, err
	}
	ch.Txs++
	if err := save(st, ch); err != nil {
		return nil, err
	}
	return contract.Result(ch)
}

// take checks a voucher against the channel and records it in the
// channel's lanes.
func (c *Contract) take(ctx *contract.Context, ch *Channel, method string, raw []byte) error {
	if ch.State == StateClosed {
		return txerr.New(txerr.Rejected, "%s: channel %s was collected at height %d", method, ch.ID, ch.Closed)
	}
	if at := ch.settleAt(ctx.Height); at != 0 && ctx.Height >= at {
		return txerr.New(txerr.Rejected, "%s: channel %s took its last voucher before height %d", method, ch.ID, at)
	}
	d, err := voucher.Decode(raw)
	if err != nil {
		return txerr.New(txerr.BadArgs, "%s: %v", method, err)
	}
	view, err := ch.view(ctx.Channel)
	if err != nil {
		return err
	}
	eff, err := voucher.Check(d, view)
	if err != nil {
		return txerr.New(txerr.Rejected, "%s: %v", method, err)
	}
	if d.Cond != nil {
		if err := c.condition(ctx, d.Cond); err != nil {
			return wrap(method, err)
		}
	}
	view.Apply(eff)
	ch.Lanes, ch.Redeemed = view.Lanes, eff.Total
	ctx.Emit("redeemed", "", attr("channel", ch.ID), num("lane", eff.Lane.ID), num("nonce", eff.Lane.Nonce),
		num("amount", eff.Lane.Amount), num("redeemed", ch.Redeemed))
	return nil
}

func (c *Contract) settle(ctx *contract.Context, st contract.State, raw []byte) ([]byte, error) {
	var a VoucherArgs
	if err := contract.DecodeArgs("settle", raw, &a); err != nil {
		return nil, err
	}
	ch, err := load(st, "settle", a.Channel)
	if err != nil {
		return nil, err
	}
	payer, payee := ch.payerSide(ctx.Caller), ch.payeeSide(ctx.Caller)
	switch {
	case !payer && !payee:
		return nil, txerr.New(txerr.RoleDenied, "settle: %s of %s is on neither side of channel %s", ctx.Caller.ID, ctx.Caller.Org, ch.ID)
	case ch.State == StateClosed:
		return nil, txerr.New(txerr.Rejected, "settle: channel %s was collected at height %d", ch.ID, ch.Closed)
	case len(a.Voucher) > 0 && !payee:
		return nil, txerr.New(txerr.RoleDenied, "settle: only the payee's side settles with a voucher")
	}
	at := ch.settleAt(ctx.Height)
	if at != 0 && ctx.Height >= at {
		return nil, txerr.New(txerr.Rejected, "settle: channel %s is settled: collect it", ch.ID)
	}
	if len(a.Voucher) > 0 {
		if err := c.take(ctx, ch, "settle", a.Voucher); err != nil {
			return nil, err
		}
	}
	// The settle delay is the payee's time to redeem; when the payee
	// settles, nobody has anything left to redeem.
	if payee {
		ch.SettleAt, ch.SettledBy = ctx.Height, ByPayee
	} else {
		if at != 0 {
			return nil, txerr.New(txerr.Rejected, "settle: channel %s is settling until height %d", ch.ID, at)
		}
		ch.SettleAt, ch.SettledBy = ctx.Height+ch.SettleDelay, ByPayer
	}
	ch.State = StateSettling
	ch.Txs++
	if err := save(st, ch); err != nil {
		return nil, err
	}
	ctx.Emit("settling", "", attr("channel", ch.ID), attr("by", ch.SettledBy), height("settle_at", ch.SettleAt))
	return contract.Result(ch)
}

func (c *Contract) collect(ctx *contract.Context, st contract.State, raw []byte) ([]byte, error) {
	var a ChannelArgs
	if err := contract.DecodeArgs("collect", raw, &a); err != nil {
		return nil, err
	}
	ch, err := load(st, "collect", a.Channel)
	if err != nil {
		return nil, err
	}
	payer, payee := ch.payerSide(ctx.Caller), ch.payeeSide(ctx.Caller)
	if !payer && !payee {
		return nil, txerr.New(txerr.RoleDenied, "collect: %s of %s is on neither side of channel %s", ctx.Caller.ID, ctx.Caller.Org, ch.ID)
	}
	if ch.State == StateClosed {
		return nil, txerr.New(txerr.Rejected, "collect: channel %s was collected at height %d", ch.ID, ch.Closed)
	}
	switch at := ch.settleAt(ctx.Height); {
	case at == 0:
		return nil, txerr.New(txerr.Rejected, "collect: channel %s is open: settle it first", ch.ID)
	case ctx.Height < at:
		return nil, txerr.New(txerr.Rejected, "collect: channel %s settles at height %d", ch.ID, at)
	}
	by := ByPayee
	if payer {
		by = ByPayer
	}
	ch.Txs++
	if err := c.payout(ctx, st, ch, by); err != nil {
		return nil, err
	}
	return contract.Result(ch)
}

// payout pays the payee what it redeemed, returns the rest of the deposit
// to the account that funded it, and closes the channel.
func (c *Contract) payout(ctx *contract.Context, st contract.State, ch *Channel, by string) error {
	paid := ch.Redeemed
	refund := ch.Deposit - paid // Check keeps the lanes' sum within the deposit
	if paid > 0 {
		if _, err := ctx.Call(credit.Name, "release", credit.MoveArgs{Org: ch.PayeeOrg, Member: ch.PayeeMember, Amount: paid, Ref: ch.ID}); err != nil {
			return wrap("collect", err)
		}
	}
	if refund > 0 {
		if _, err := ctx.Call(credit.Name, "release", credit.MoveArgs{Org: ch.PayerOrg, Member: ch.From, Amount: refund, Ref: ch.ID}); err != nil {
			return wrap("collect", err)
		}
	}
	// Timers still due find the channel closed; drop them here.
	for _, h := range []int64{ch.Expiry, ch.SettleAt} {
		if h > ctx.Height {
			if err := st.Delete(timerKey(h, ch.ID)); err != nil {
				return err
			}
		}
	}
	ch.State, ch.Paid, ch.Refunded, ch.Closed = StateClosed, paid, refund, ctx.Height
	if err := save(st, ch); err != nil {
		return err
	}
	ctx.Emit("collected", "", attr("channel", ch.ID), attr("by", by), num("paid", paid), num("refunded", refund))
	return nil
}
