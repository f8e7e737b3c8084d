package apiclient

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
)

// VoucherRequest hands the node a voucher its payer signed, to send to
// the payee's node.
type VoucherRequest struct {
	Voucher []byte `json:"voucher"`
}

// VoucherReceipt is a voucher the payee's node stored durably.
type VoucherReceipt struct {
	Channel string `json:"channel"`
	Lane    uint64 `json:"lane"`
	Nonce   uint64 `json:"nonce"`
	Amount  uint64 `json:"amount"` // cumulative on the lane
	Job     string `json:"job,omitempty"`
	Voucher []byte `json:"voucher"`
}

// Lane is where a channel's lane stands.
type Lane struct {
	ID     uint64 `json:"id"`
	Nonce  uint64 `json:"nonce"`
	Amount uint64 `json:"amount"`
}

// LanesResponse is where a channel's lanes stand as its payee's node
// holds them.
type LanesResponse struct {
	Channel string `json:"channel"`
	Lanes   []Lane `json:"lanes"`
	Total   uint64 `json:"total"`
	// CanPay answers ?amount=N: whether the channel can pay N more to the
	// node's org (asked of the payee's node), and if not, why.
	CanPay *bool  `json:"can_pay,omitempty"`
	Reason string `json:"reason,omitempty"`
}

// FundingChannel is an open channel that can pay Amount more.
type FundingChannel struct {
	Channel string `json:"channel"`
	Amount  uint64 `json:"amount"`
}

// SendVoucher has the node send a signed voucher to the payee's node and
// returns once that node stored it durably.
func (c *Client) SendVoucher(ctx context.Context, channel string, raw []byte) (*VoucherReceipt, error) {
	var r VoucherReceipt
	return &r, c.do(ctx, http.MethodPost, "/v1/channels/"+url.PathEscape(channel)+"/vouchers", VoucherRequest{Voucher: raw}, &r)
}

// Lanes returns where payment channel id's lanes stand as its payee's
// node holds them; amount > 0 also asks whether it can pay that much
// more.
func (c *Client) Lanes(ctx context.Context, channel, id string, amount uint64) (*LanesResponse, error) {
	var r LanesResponse
	path := fmt.Sprintf("/v1/channels/%s/vouchers/%s", url.PathEscape(channel), url.PathEscape(id))
	if amount > 0 {
		path += fmt.Sprintf("?amount=%d", amount)
	}
	return &r, c.do(ctx, http.MethodGet, path, nil, &r)
}

// ChannelFrom returns an open channel from org to the node's org that can
// pay amount more.
func (c *Client) ChannelFrom(ctx context.Context, channel, org string, amount uint64) (*FundingChannel, error) {
	var r FundingChannel
	path := fmt.Sprintf("/v1/channels/%s/paych/from/%s?amount=%d", url.PathEscape(channel), url.PathEscape(org), amount)
	return &r, c.do(ctx, http.MethodGet, path, nil, &r)
}
