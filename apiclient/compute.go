package apiclient

import (
	"context"
	"net/http"
)

// SaltRequest deposits a compute job's output salt with the requester's
// node, which hands it to the job's workers with the data keys.
type SaltRequest struct {
	Job  string `json:"job"` // the ID the job's post transaction will have
	Salt []byte `json:"salt"`
}

// ComputeKeysRequest is a worker's signed key request (compute/keys) to
// relay to the custodian of the job's data.
type ComputeKeysRequest struct {
	Custodian string `json:"custodian"` // its node's certificate fingerprint
	Request   []byte `json:"request"`
}

// ComputeKeysAnswer is the custodian's encoded answer (compute/keys).
type ComputeKeysAnswer struct {
	Answer []byte `json:"answer"`
}

// DepositSalt hands a job's output salt to the node, before the job is
// posted.
func (c *Client) DepositSalt(ctx context.Context, channel, job string, salt []byte) error {
	return c.do(ctx, http.MethodPost, c.chPath(channel, "/compute/salts"), SaltRequest{Job: job, Salt: salt}, nil)
}

// RequestComputeKeys relays a worker's signed key request through the
// node to the custodian and returns the encoded answer.
func (c *Client) RequestComputeKeys(ctx context.Context, channel, custodian string, request []byte) ([]byte, error) {
	var out ComputeKeysAnswer
	if err := c.do(ctx, http.MethodPost, c.chPath(channel, "/compute/keys"), ComputeKeysRequest{Custodian: custodian, Request: request}, &out); err != nil {
		return nil, err
	}
	return out.Answer, nil
}
