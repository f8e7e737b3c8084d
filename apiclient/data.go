package apiclient

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
)

func (c *Client) chPath(channel, rest string) string {
	return "/v1/channels/" + url.PathEscape(channel) + rest
}

// StorePut streams ciphertext to the node's store.
func (c *Client) StorePut(ctx context.Context, channel string, body io.Reader) (*StoreResponse, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.Base+c.chPath(channel, "/store"), body)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/octet-stream")
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return nil, fmt.Errorf("node at %s: %w", c.Base, err)
	}
	defer resp.Body.Close()
	if err := apiError(resp); err != nil {
		return nil, err
	}
	var out StoreResponse
	return &out, json.NewDecoder(resp.Body).Decode(&out)
}

// StoreGet streams ciphertext from the node, which fetches missing blocks
// from member nodes first (from the node of the member with certificate
// fingerprint from, if not empty).
func (c *Client) StoreGet(ctx context.Context, channel, cid, from string) (io.ReadCloser, error) {
	u := c.Base + c.chPath(channel, "/store/"+url.PathEscape(cid))
	if from != "" {
		u += "?from=" + url.QueryEscape(from)
	}
	return c.get(ctx, u)
}

// get sends a GET and returns the body of a successful answer; the caller
// closes it.
func (c *Client) get(ctx context.Context, u string) (io.ReadCloser, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return nil, fmt.Errorf("node at %s: %w", c.Base, err)
	}
	if err := apiError(resp); err != nil {
		resp.Body.Close()
		return nil, err
	}
	return resp.Body, nil
}

func apiError(resp *http.Response) error {
	if resp.StatusCode/100 == 2 {
		return nil
	}
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	e := &APIError{Status: resp.StatusCode}
	if json.Unmarshal(raw, &e.ErrorResponse) != nil || e.ErrorResponse.Error == "" {
		e.ErrorResponse = ErrorResponse{Code: 99, Error: fmt.Sprintf("HTTP %d: %s", resp.StatusCode, raw)}
	}
	return e
}

// PutDataKey hands a data key to the node as custodian.
func (c *Client) PutDataKey(ctx context.Context, channel, cid string, key []byte) error {
	return c.do(ctx, http.MethodPost, c.chPath(channel, "/datakeys"), DataKeyRequest{CID: cid, Key: key}, nil)
}

// ShredDataKey destroys a data key and the node's blocks of the object.
func (c *Client) ShredDataKey(ctx context.Context, channel, cid string) error {
	return c.do(ctx, http.MethodDelete, c.chPath(channel, "/datakeys/"+url.PathEscape(cid)), nil, nil)
}

// RelayKeyRequest sends a sealed request to the custodian through the node.
func (c *Client) RelayKeyRequest(ctx context.Context, channel, custodian string, sealed []byte) ([]byte, error) {
	var out KeyAnswer
	if err := c.do(ctx, http.MethodPost, c.chPath(channel, "/keyrequests"), KeyRequest{Custodian: custodian, Sealed: sealed}, &out); err != nil {
		return nil, err
	}
	return out.Sealed, nil
}

// PendingRequests lists the key requests awaiting approval on this node,
// oldest first.
func (c *Client) PendingRequests(ctx context.Context) ([]PendingRequest, error) {
	var out []PendingRequest
	return out, c.do(ctx, http.MethodGet, "/v1/keyrequests", nil, &out)
}

// Decide approves or denies a pending request and returns it.
func (c *Client) Decide(ctx context.Context, id string, approve bool) (*PendingRequest, error) {
	var out PendingRequest
	if err := c.do(ctx, http.MethodPost, "/v1/keyrequests/"+url.PathEscape(id), Decision{Approve: approve}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// MaxBundleSize bounds an audit bundle the client reads (the size
// dcmb/bundle accepts; a test keeps the two equal).
const MaxBundleSize = 64 << 20

// AuditBundle fetches the proof bundle of a stream message.
func (c *Client) AuditBundle(ctx context.Context, channel, stream string, seq uint64) ([]byte, error) {
	u := c.Base + c.chPath(channel, "/audit/bundle") + "?stream=" + url.QueryEscape(stream) + "&seq=" + strconv.FormatUint(seq, 10)
	body, err := c.get(ctx, u)
	if err != nil {
		return nil, err
	}
	defer body.Close()
	raw, err := io.ReadAll(io.LimitReader(body, MaxBundleSize+1))
	if err != nil {
		return nil, fmt.Errorf("reading the bundle: %w", err)
	}
	return raw, nil
}
