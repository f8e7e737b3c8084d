// Paying for compute results: the hook the compute side calls once a job
// is accepted, and the channels it pays through.

package payment

import (
	"context"
	"fmt"

	"github.com/sealnet/sealnet/canon"
	"github.com/sealnet/sealnet/contract/compute"
	"github.com/sealnet/sealnet/contract/paych"
	"github.com/sealnet/sealnet/txerr"
)

// Open opens a channel paid by this node: its key signs the channel's
// vouchers. A node spends from its own member account (an org's admin
// opens it with credit.open_account and funds it), so a.From defaults to
// the node's member ID.
func (s *Service) Open(ctx context.Context, chain string, a paych.OpenArgs) (*paych.Channel, error) {
	if a.From == "" {
		a.From = s.cfg.Identity.Member.ID
	}
	out, err := s.cfg.Ledger.Submit(ctx, chain, paych.Name, "open", a)
	if err != nil {
		return nil, err
	}
	var ch paych.Channel
	if err := canon.Unmarshal(out, &ch); err != nil {
		return nil, txerr.New(txerr.Internal, "open's result: %v", err)
	}
	return &ch, nil
}

// PayJob pays for an accepted compute job: to each org the job's
// acceptance pays (compute.Job.Payees), one voucher of the job's price on
// an open channel from this node to that org, conditional on the job, so
// that it is redeemable only because the job is accepted. It returns once
// every payee's node stored its voucher. A job this node already paid
// for, in this process or as the payee's latest voucher says, is not
// paid twice. The compute side calls it when it sees a job accepted.
func (s *Service) PayJob(ctx context.Context, chain, job string) ([]Receipt, error) {
	j, err := s.cfg.Ledger.Job(chain, job)
	if err != nil {
		return nil, err
	}
	if j.State != compute.StateAccepted {
		return nil, txerr.New(txerr.Rejected, "job %s is %s, not %s", job, j.State, compute.StateAccepted)
	}
	var out []Receipt
	for _, org := range j.Payees() {
		if org == s.org || j.Price == 0 {
			continue
		}
		key := chain + "/" + job + "/" + org
		s.mu.Lock()
		r, done := s.paid[key]
		s.mu.Unlock()
		if done {
			out = append(out, r)
			continue
		}
		id, err := s.channelTo(ctx, chain, org, job, j.Price)
		if err != nil {
			return out, err
		}
		if id == "" { // the payee's latest voucher is this job's
			continue
		}
		rp, err := s.Pay(ctx, Payment{Chain: chain, Channel: id, Amount: j.Price, Job: job})
		if err != nil {
			return out, fmt.Errorf("pay %s for job %s: %w", org, job, err)
		}
		s.mu.Lock()
		s.paid[key] = *rp
		s.mu.Unlock()
		out = append(out, *rp)
	}
	return out, nil
}

// channelTo returns an open channel from this node to org's account with
// amount left, or "" if one holds a voucher on job already.
func (s *Service) channelTo(ctx context.Context, chain, org, job string, amount uint64) (string, error) {
	height, err := s.cfg.Ledger.Height(chain)
	if err != nil {
		return "", err
	}
	self := s.cfg.Identity.Member.Fingerprint.String()
	after := ""
	for {
		l, err := s.cfg.Ledger.Channels(chain, paych.ListArgs{Org: s.org, After: after, State: paych.StateOpen, Limit: paych.MaxList})
		if err != nil {
			return "", err
		}
		for _, rec := range l.Channels {
			if rec.Payer != self || rec.PayeeOrg != org || rec.PayeeMember != "" || rec.Expiry-height < s.cfg.MinBlocksLeft {
				continue
			}
			k, err := parseChannel(chain, rec.ID)
			if err != nil {
				continue
			}
			ss, err := s.session(ctx, k)
			if err != nil {
				continue
			}
			ss.mu.Lock()
			paid, cerr := ss.jobs[job], ss.canAdd(0, amount)
			ss.mu.Unlock()
			if paid {
				return "", nil
			}
			if cerr == nil {
				return rec.ID, nil
			}
		}
		if !l.More || len(l.Channels) == 0 {
			return "", refuse(CodeUnknownChannel, "no open channel from this node to %s can pay %d: open one (paych.open by the node, from its member account)", org, amount)
		}
		after = l.Channels[len(l.Channels)-1].ID
	}
}
