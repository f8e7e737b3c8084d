package apiclient

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
)

// Bounds of one batch request. A batch above them is refused whole with
// code oversized and HTTP 400, before any of its items is looked at;
// Batches splits a longer list to fit.
const (
	MaxBatchTxs   = 1000    // transactions per batch submit; also data keys per batch deposit and objects per batch store
	MaxBatchBytes = 4 << 20 // envelope bytes per batch submit, in all (one envelope of the largest size a channel allows fits)
)

// BatchRequest carries signed envelopes submitted together.
type BatchRequest struct {
	Txs [][]byte `json:"txs"` // envelope bytes (base64 in JSON)
}

// BatchResult is the outcome of one transaction of a batch, as a single
// submit of it would have answered: Status is that submit's HTTP status
// (200 committed, 422 committed but rejected in its block, 4xx or 503
// refused before any block, with the code saying why).
type BatchResult struct {
	Status int `json:"status"`
	TxResponse
}

// BatchResponse holds one result per transaction of the batch, in the
// batch's order.
type BatchResponse struct {
	Results   []BatchResult `json:"results"`
	Committed int           `json:"committed"` // results with status 200
}

// ItemResult is the outcome of one item of a batch deposit, as the single
// request would have answered: Status is its HTTP status (204 done).
type ItemResult struct {
	Status   int    `json:"status"`
	Code     uint32 `json:"code"`
	CodeName string `json:"code_name"`
	Error    string `json:"error,omitempty"`
}

// DataKeysRequest hands several objects' data keys to the custodian.
type DataKeysRequest struct {
	Keys []DataKeyRequest `json:"keys"`
}

// DataKeysResponse holds one result per key, in the request's order.
type DataKeysResponse struct {
	Results []ItemResult `json:"results"`
}

// StoreBatchResponse lists the stored objects in the order of the
// request's parts.
type StoreBatchResponse struct {
	Objects []StoreResponse `json:"objects"`
}

// SubmitBatch submits signed envelopes in one request and waits until
// each is committed or refused; results come in the order of txs. A batch
// above MaxBatchTxs or MaxBatchBytes is refused whole (split it with
// Batches). A transaction's own refusal is in its result, not the error.
func (c *Client) SubmitBatch(ctx context.Context, channel string, txs [][]byte) (*BatchResponse, error) {
	var r BatchResponse
	if err := c.do(ctx, http.MethodPost, c.chPath(channel, "/txs/batch"), BatchRequest{Txs: txs}, &r); err != nil {
		return nil, err
	}
	if len(r.Results) != len(txs) {
		return nil, fmt.Errorf("node at %s answered %d results for %d transactions", c.Base, len(r.Results), len(txs))
	}
	return &r, nil
}

// Batches splits txs into consecutive batches within MaxBatchTxs and
// MaxBatchBytes.
func Batches(txs [][]byte) [][][]byte {
	var out [][][]byte
	start, size := 0, 0
	for i, tx := range txs {
		if i > start && (i-start == MaxBatchTxs || size+len(tx) > MaxBatchBytes) {
			out = append(out, txs[start:i])
			start, size = i, 0
		}
		size += len(tx)
	}
	if start < len(txs) {
		out = append(out, txs[start:])
	}
	return out
}

// PutDataKeys hands several data keys to the node as custodian in one
// request; each key gets its own result, in order.
func (c *Client) PutDataKeys(ctx context.Context, channel string, keys []DataKeyRequest) ([]ItemResult, error) {
	var r DataKeysResponse
	if err := c.do(ctx, http.MethodPost, c.chPath(channel, "/datakeys/batch"), DataKeysRequest{Keys: keys}, &r); err != nil {
		return nil, err
	}
	if len(r.Results) != len(keys) {
		return nil, fmt.Errorf("node at %s answered %d results for %d keys", c.Base, len(r.Results), len(keys))
	}
	return r.Results, nil
}

// StoreBatch streams n objects to the node's store in one request (at most
// MaxBatchTxs): write(i, w) writes object i's ciphertext to w, in order.
// The node makes them durable together and answers their CIDs in order.
func (c *Client) StoreBatch(ctx context.Context, channel string, n int, write func(i int, w io.Writer) error) ([]StoreResponse, error) {
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	go func() {
		var err error
		for i := 0; i < n && err == nil; i++ {
			var part io.Writer
			if part, err = mw.CreateFormFile("object", fmt.Sprint(i)); err == nil {
				err = write(i, part)
			}
		}
		if err == nil {
			err = mw.Close()
		}
		pw.CloseWithError(err)
	}()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.Base+c.chPath(channel, "/store/batch"), pr)
	if err != nil {
		pr.Close()
		return nil, err
	}
	req.Header.Set("Content-Type", mw.FormDataContentType())
	resp, err := c.HTTP.Do(req)
	pr.CloseWithError(io.ErrClosedPipe) // ends the writer if the request ended early
	if err != nil {
		return nil, fmt.Errorf("node at %s: %w", c.Base, err)
	}
	defer resp.Body.Close()
	if err := apiError(resp); err != nil {
		return nil, err
	}
	var out StoreBatchResponse
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return nil, err
	}
	if len(out.Objects) != n {
		return nil, fmt.Errorf("node at %s stored %d objects of %d", c.Base, len(out.Objects), n)
	}
	return out.Objects, nil
}
