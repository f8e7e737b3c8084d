package contracttest

import (
	"fmt"
	"strconv"

	"github.com/sealnet/sealnet/contract/paych"
	"github.com/sealnet/sealnet/contract/paych/voucher"
)

// doVoucher signs a voucher off chain: voucher <label> <signer> channel=...
func (s *Scenario) doVoucher(pos []string, pairs []pair) error {
	opts, rest, err := options(pairs, "channel", "lane", "nonce", "amount", "job", "state", "chain", "contract")
	if err != nil {
		return err
	}
	if len(pos) != 2 || len(rest) > 0 {
		return fmt.Errorf("usage: voucher <label> <signer> channel=<value> nonce=<n> amount=<n> [lane=<n>] [job=<value>] [state=<state>] [chain=<name>] [contract=<name>]")
	}
	label := pos[0]
	if _, dup := s.vouchers[label]; dup {
		return fmt.Errorf("voucher %q made twice", label)
	}
	signer, err := s.person(pos[1])
	if err != nil {
		return err
	}
	v := voucher.Voucher{Chain: Channel, Contract: paych.Name}
	if c, ok := opts["chain"]; ok {
		v.Chain = c
	}
	if c, ok := opts["contract"]; ok {
		v.Contract = c
	}
	if v.Channel, err = s.bytesOf(opts["channel"]); err != nil {
		return fmt.Errorf("channel: %w", err)
	}
	for _, f := range []struct {
		key string
		dst *uint64
	}{{"lane", &v.Lane}, {"nonce", &v.Nonce}, {"amount", &v.Amount}} {
		if raw, ok := opts[f.key]; ok {
			if *f.dst, err = strconv.ParseUint(raw, 10, 64); err != nil {
				return fmt.Errorf("%s: %v", f.key, err)
			}
		}
	}
	if raw, ok := opts["job"]; ok {
		job, err := s.bytesOf(raw)
		if err != nil {
			return fmt.Errorf("job: %w", err)
		}
		v.Cond = &voucher.Condition{Job: job, State: voucher.StateAccepted}
		if st, ok := opts["state"]; ok {
			v.Cond.State = st
		}
	}
	body, err := v.Body()
	if err != nil {
		return fmt.Errorf("voucher %s: %w", label, err)
	}
	sig, err := detSign(signer.key, voucher.Digest(body))
	if err != nil {
		return err
	}
	raw := voucher.Encode(body, sig)
	s.vouchers[label] = raw
	s.name(fmt.Sprintf("%x", raw), "voucher:"+label)
	return nil
}
