package apiclient

import (
	"bufio"
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/sealnet/sealnet/canon"
	"github.com/sealnet/sealnet/envelope"
	"github.com/sealnet/sealnet/identity"
	"github.com/sealnet/sealnet/txerr"
)

// Client talks to one node's API over TLS as one member.
type Client struct {
	Base   string // e.g. https://127.0.0.1:7700
	HTTP   *http.Client
	Member *identity.Member // who the client authenticates as
}

// New returns a client for the node at addr (host:port or an https URL)
// that authenticates as id and accepts only a node certificate of id's org
// issued by root.
func New(addr string, id *identity.Identity, root *x509.Certificate) (*Client, error) {
	switch {
	case strings.HasPrefix(addr, "http://"):
		return nil, fmt.Errorf("node address %s: the API is served over TLS only; use https://", addr)
	case !strings.Contains(addr, "://"):
		addr = "https://" + addr
	case !strings.HasPrefix(addr, "https://"):
		return nil, fmt.Errorf("node address %s: want https://HOST:PORT", addr)
	}
	if id == nil || root == nil {
		return nil, errors.New("the API client needs a member identity and its org root")
	}
	if err := id.Member.Cert.CheckSignatureFrom(root); err != nil {
		return nil, fmt.Errorf("identity %s@%s is not issued by the org root %q: %w", id.Member.ID, id.Member.Org, root.Subject.CommonName, err)
	}
	// large buffers: ciphertext streams through this client
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.WriteBufferSize, tr.ReadBufferSize = 256<<10, 256<<10
	// concurrent callers keep their connections: with the default of two
	// idle ones, every further request would pay a new TLS handshake
	tr.MaxIdleConnsPerHost = 64
	tr.TLSClientConfig = ClientTLS(id, root)
	return &Client{Base: strings.TrimRight(addr, "/"), HTTP: &http.Client{Transport: tr}, Member: id.Member}, nil
}

// APIError is a non-2xx answer; it unwraps to the transaction error so
// txerr.CodeOf works on it.
type APIError struct {
	Status int
	ErrorResponse
}

func (e *APIError) Error() string { return e.ErrorResponse.Error }

// Unwrap returns the transaction-coded error.
func (e *APIError) Unwrap() error {
	return &txerr.Error{Code: txerr.Code(e.Code), Msg: e.ErrorResponse.Error}
}

func (c *Client) do(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.Base+path, body)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return fmt.Errorf("node at %s: %w", c.Base, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode/100 != 2 && resp.StatusCode != http.StatusUnprocessableEntity {
		e := &APIError{Status: resp.StatusCode}
		if json.Unmarshal(raw, &e.ErrorResponse) != nil || e.ErrorResponse.Error == "" {
			e.ErrorResponse = ErrorResponse{Code: uint32(txerr.Internal), Error: fmt.Sprintf("HTTP %d: %s", resp.StatusCode, bytes.TrimSpace(raw))}
		}
		return e
	}
	if out == nil {
		return nil
	}
	return json.Unmarshal(raw, out)
}

// Status returns the node's status.
func (c *Client) Status(ctx context.Context) (*Status, error) {
	var s Status
	return &s, c.do(ctx, http.MethodGet, "/v1/status", nil, &s)
}

// SubmitRaw submits signed envelope bytes and waits for the commit. A
// transaction that committed with a non-zero code is returned with a nil
// error: its Code says what the block decided.
func (c *Client) SubmitRaw(ctx context.Context, channel string, raw []byte) (*TxResponse, error) {
	var r TxResponse
	err := c.do(ctx, http.MethodPost, "/v1/channels/"+url.PathEscape(channel)+"/txs", SubmitRequest{Tx: raw}, &r)
	if err != nil {
		return nil, err
	}
	return &r, nil
}

// Call signs a contract call as id and submits it.
func (c *Client) Call(ctx context.Context, id *identity.Identity, channel, contractName, method string, args any) (*TxResponse, error) {
	raw, err := SignCall(id, channel, contractName, method, args, time.Now())
	if err != nil {
		return nil, err
	}
	return c.SubmitRaw(ctx, channel, raw)
}

// SignCall builds and signs an envelope with a random nonce.
func SignCall(id *identity.Identity, channel, contractName, method string, args any, now time.Time) ([]byte, error) {
	return envelope.SignCall(id, channel, contractName, method, args, now)
}

// Query runs a read-only contract query and decodes its result, which the
// node renders as JSON, into a T: the contract's result type (for example
// index.FindResult for index.lookup).
func Query[T any](ctx context.Context, c *Client, channel, contractName, method string, args any) (T, error) {
	var out T
	a, err := canon.Marshal(args)
	if err != nil {
		return out, err
	}
	path := fmt.Sprintf("/v1/channels/%s/query/%s/%s", url.PathEscape(channel), url.PathEscape(contractName), url.PathEscape(method))
	return out, c.do(ctx, http.MethodPost, path, QueryRequest{Args: a}, &out)
}

// Tx returns a committed transaction with its envelope.
func (c *Client) Tx(ctx context.Context, channel, id string) (*TxResponse, error) {
	var r TxResponse
	return &r, c.do(ctx, http.MethodGet, "/v1/channels/"+url.PathEscape(channel)+"/txs/"+url.PathEscape(id), nil, &r)
}

// Block returns a block summary.
func (c *Client) Block(ctx context.Context, channel string, height int64) (*BlockResponse, error) {
	var r BlockResponse
	return &r, c.do(ctx, http.MethodGet, fmt.Sprintf("/v1/channels/%s/blocks/%d", url.PathEscape(channel), height), nil, &r)
}

// Channel creates or joins a channel.
func (c *Client) Channel(ctx context.Context, req ChannelRequest) (*ChannelResponse, error) {
	var r ChannelResponse
	return &r, c.do(ctx, http.MethodPost, "/v1/channels", req, &r)
}

// Events streams contract events from height from (or only new ones if
// from < 0) until ctx ends or fn returns false. With stopAtLive it returns
// once the committed events are replayed, before live ones.
func (c *Client) Events(ctx context.Context, channel string, from int64, fn func(EventMessage) bool, stopAtLive bool) error {
	u := c.Base + "/v1/channels/" + url.PathEscape(channel) + "/events"
	if from >= 0 {
		u += fmt.Sprintf("?from=%d", from)
	}
	body, err := c.get(ctx, u)
	if err != nil {
		return err
	}
	defer body.Close()
	sc := bufio.NewScanner(body)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	event := ""
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == ": live" && stopAtLive:
			return nil
		case strings.HasPrefix(line, "event: "):
			event = line[len("event: "):]
		case strings.HasPrefix(line, "data: "):
			data := line[len("data: "):]
			if event == "error" {
				var e ErrorResponse
				if json.Unmarshal([]byte(data), &e) != nil || e.Error == "" {
					return fmt.Errorf("event stream: %s", data)
				}
				return fmt.Errorf("event stream ended: %w", &txerr.Error{Code: txerr.Code(e.Code), Msg: e.Error})
			}
			var m EventMessage
			if err := json.Unmarshal([]byte(data), &m); err != nil {
				return fmt.Errorf("event stream: %w", err)
			}
			if !fn(m) {
				return nil
			}
		}
	}
	if ctx.Err() != nil {
		return nil
	}
	return sc.Err()
}
