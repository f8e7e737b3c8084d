package api

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/sealnet/sealnet/apiclient"
	"github.com/sealnet/sealnet/contract/paych/voucher"
	"github.com/sealnet/sealnet/payment"
	"github.com/sealnet/sealnet/txerr"
)

// Payments is the node's payment-channel service (package payment).
type Payments interface {
	Relay(ctx context.Context, chain string, raw []byte) (*payment.Receipt, error)
	Lanes(ctx context.Context, chain, channel string) ([]voucher.Lane, error)
	CanPay(chain, channel string, amount uint64) error
	ChannelFrom(chain, payerOrg string, amount uint64) (string, error)
}

// SetPayments attaches the node's payment service, which relays vouchers
// and answers what channels hold.
func (s *Server) SetPayments(p Payments) {
	s.mu.Lock()
	s.payments = p
	s.mu.Unlock()
}

func (s *Server) routePaych() {
	s.handle("POST", "/v1/channels/{ch}/vouchers", Writer, s.sendVoucher)
	s.handle("GET", "/v1/channels/{ch}/vouchers/{id}", Reader, s.channelLanes)
	s.handle("GET", "/v1/channels/{ch}/paych/from/{org}", Reader, s.channelFrom)
}

// paymentsOn returns the payment service for a hosted channel, or writes
// why there is none.
func (s *Server) paymentsOn(w http.ResponseWriter, r *http.Request) (Payments, string, bool) {
	s.mu.Lock()
	p := s.payments
	s.mu.Unlock()
	ch := r.PathValue("ch")
	if _, err := s.n.Channel(ch); err != nil {
		writeErr(w, err)
		return nil, "", false
	}
	if p == nil {
		writeErr(w, txerr.New(txerr.Unavailable, "this node runs no payment service (it needs p2p.listen)"))
		return nil, "", false
	}
	return p, ch, true
}

// sendVoucher relays a voucher its payer signed to the payee's node and
// answers once that node stored it durably, or with its refusal.
func (s *Server) sendVoucher(w http.ResponseWriter, r *http.Request) {
	p, ch, ok := s.paymentsOn(w, r)
	if !ok {
		return
	}
	var req apiclient.VoucherRequest
	if err := readJSON(r, &req); err != nil {
		writeErr(w, err)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 60*time.Second)
	defer cancel()
	rc, err := p.Relay(ctx, ch, req.Voucher)
	if err != nil {
		writeErr(w, err)
		return
	}
	writeJSON(w, http.StatusOK, apiclient.VoucherReceipt{Channel: rc.Channel, Lane: rc.Lane, Nonce: rc.Nonce, Amount: rc.Amount,
		Job: rc.Job, Voucher: rc.Voucher})
}

// channelLanes answers where a channel's lanes stand as its payee's node
// holds them and, given ?amount=N, whether the channel can pay N more
// to this node's org.
func (s *Server) channelLanes(w http.ResponseWriter, r *http.Request) {
	p, ch, ok := s.paymentsOn(w, r)
	if !ok {
		return
	}
	id := r.PathValue("id")
	ctx, cancel := context.WithTimeout(r.Context(), 30*time.Second)
	defer cancel()
	lanes, err := p.Lanes(ctx, ch, id)
	if err != nil {
		writeErr(w, err)
		return
	}
	out := apiclient.LanesResponse{Channel: id, Lanes: []apiclient.Lane{}}
	for _, l := range lanes {
		out.Lanes = append(out.Lanes, apiclient.Lane{ID: l.ID, Nonce: l.Nonce, Amount: l.Amount})
		out.Total += l.Amount
	}
	if a := r.URL.Query().Get("amount"); a != "" {
		n, err := strconv.ParseUint(a, 10, 64)
		if err != nil {
			writeErr(w, txerr.New(txerr.BadArgs, "amount %q is not a number", a))
			return
		}
		can := true
		if err := p.CanPay(ch, id, n); err != nil {
			can, out.Reason = false, err.Error()
		}
		out.CanPay = &can
	}
	writeJSON(w, http.StatusOK, out)
}

// channelFrom answers an open channel from an org to this node's org that
// can pay ?amount=N more: what a worker asks before it takes on work.
func (s *Server) channelFrom(w http.ResponseWriter, r *http.Request) {
	p, ch, ok := s.paymentsOn(w, r)
	if !ok {
		return
	}
	n, err := strconv.ParseUint(r.URL.Query().Get("amount"), 10, 64)
	if err != nil {
		writeErr(w, txerr.New(txerr.BadArgs, "want ?amount=N"))
		return
	}
	id, err := p.ChannelFrom(ch, r.PathValue("org"), n)
	if err != nil {
		writeErr(w, err)
		return
	}
	writeJSON(w, http.StatusOK, apiclient.FundingChannel{Channel: id, Amount: n})
}
